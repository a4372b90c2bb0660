package imapd

import (
	"sync"

	"mailsrv/server/mailsort"
)

// sortCache keeps the prepared SORT/THREAD keys of an open folder's
// messages by UID. A delivered message's envelope never changes, so an
// entry stays valid until the message goes; the cache lives as long as
// the folder is open (folderState) and is trimmed when expunged entries
// pile up.
type sortCache struct {
	mu sync.Mutex
	m  map[uint32]*mailsort.Msg
}

// lookup returns the cached entries for uids (nil where missing).
func (c *sortCache) lookup(uids []uint32) []*mailsort.Msg {
	out := make([]*mailsort.Msg, len(uids))
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, u := range uids {
		out[i] = c.m[u]
	}
	return out
}

// add caches prepared entries; live are the folder's current UIDs, used
// to drop entries of expunged messages when they outnumber the live ones.
func (c *sortCache) add(entries map[uint32]*mailsort.Msg, live []uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[uint32]*mailsort.Msg, len(entries))
	}
	for u, m := range entries {
		c.m[u] = m
	}
	if len(c.m) > 2*len(live)+1000 {
		keep := make(map[uint32]*mailsort.Msg, len(live))
		for _, u := range live {
			if m := c.m[u]; m != nil {
				keep[u] = m
			}
		}
		c.m = keep
	}
}
