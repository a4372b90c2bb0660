package imapd

import (
	"slices"
	"sync"

	"mailsrv/server/mailsort"
)

// sortCache keeps the prepared SORT/THREAD keys of an open folder's
// messages by UID. A delivered message's envelope never changes, so an
// entry stays valid until the message goes; the cache lives as long as
// the folder is open (folderState) and is trimmed when expunged entries
// pile up.
type sortCache struct {
	mu     sync.Mutex
	m      map[uint32]*mailsort.Msg
	orders []sortOrder // most recent first
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

// maxSortOrders is how many SORT orders (key lists) a folder keeps.
const maxSortOrders = 4

// sortOrder is the result of one SORT: the order of uids (ascending, the
// messages sorted) by the key list spec, as indexes into uids. Keys of a
// message never change and ties go by mailbox order, which is UID order,
// so the order holds for as long as the same UIDs are sorted by the same
// keys: a client repeating a SORT (a list view refreshing) is answered
// without comparing again.
type sortOrder struct {
	spec  string
	uids  []uint32
	order []int32
}

// order returns the kept order of uids by spec, nil if none.
func (c *sortCache) order(spec string, uids []uint32) []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, o := range c.orders {
		if o.spec == spec && slices.Equal(o.uids, uids) {
			copy(c.orders[1:i+1], c.orders[:i]) // most recent first
			c.orders[0] = o
			return o.order
		}
	}
	return nil
}

// putOrder keeps the order of uids by spec (uids is not changed later by
// the caller), dropping the least recent beyond maxSortOrders.
func (c *sortCache) putOrder(spec string, uids []uint32, order []int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.orders[:0:0]
	kept = append(kept, sortOrder{spec, uids, order})
	for _, o := range c.orders {
		if o.spec != spec && len(kept) < maxSortOrders {
			kept = append(kept, o)
		}
	}
	c.orders = kept
}
