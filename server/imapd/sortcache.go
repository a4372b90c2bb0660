package imapd

import (
	"cmp"
	"slices"
	"sort"
	"sync"

	"mailsrv/server/mailsort"
)

// sortCache keeps the prepared SORT/THREAD keys of an open folder's
// messages by UID. A delivered message's envelope never changes, so an
// entry stays valid until the message goes; the cache lives as long as
// the folder is open (folderState) and is trimmed when expunged entries
// pile up. Entries are kept in UID order, as the folder lists its
// messages, so a lookup of the whole folder is one merge walk, not a
// hash lookup per message.
type sortCache struct {
	mu     sync.Mutex
	uids   []uint32 // ascending
	msgs   []*mailsort.Msg
	orders []sortOrder // most recent first
}

// keyed is a prepared message with its UID.
type keyed struct {
	uid uint32
	msg *mailsort.Msg
}

// lookup returns the cached entries for uids, which ascend (nil where
// missing).
func (c *sortCache) lookup(uids []uint32) []*mailsort.Msg {
	out := make([]*mailsort.Msg, len(uids))
	c.mu.Lock()
	defer c.mu.Unlock()
	j := 0
	for i, u := range uids {
		if j < len(c.uids) && c.uids[j] < u {
			j += sort.Search(len(c.uids)-j, func(k int) bool { return c.uids[j+k] >= u })
		}
		if j < len(c.uids) && c.uids[j] == u {
			out[i] = c.msgs[j]
		}
	}
	return out
}

// add caches prepared entries (any order); live are the folder's
// current UIDs (ascending), used to drop entries of expunged messages
// when they outnumber the live ones.
func (c *sortCache) add(entries []keyed, live []uint32) {
	slices.SortFunc(entries, func(a, b keyed) int { return cmp.Compare(a.uid, b.uid) })
	c.mu.Lock()
	defer c.mu.Unlock()
	uids := make([]uint32, 0, len(c.uids)+len(entries))
	msgs := make([]*mailsort.Msg, 0, cap(uids))
	i, j := 0, 0
	for i < len(c.uids) || j < len(entries) {
		switch {
		case j == len(entries) || i < len(c.uids) && c.uids[i] < entries[j].uid:
			uids, msgs = append(uids, c.uids[i]), append(msgs, c.msgs[i])
			i++
		case i < len(c.uids) && c.uids[i] == entries[j].uid:
			uids, msgs = append(uids, c.uids[i]), append(msgs, c.msgs[i])
			i++
			j++
		default:
			if len(uids) == 0 || uids[len(uids)-1] != entries[j].uid {
				uids, msgs = append(uids, entries[j].uid), append(msgs, entries[j].msg)
			}
			j++
		}
	}
	if len(uids) > 2*len(live)+1000 {
		keepU, keepM := uids[:0], msgs[:0]
		k := 0
		for n, u := range uids {
			for k < len(live) && live[k] < u {
				k++
			}
			if k < len(live) && live[k] == u {
				keepU, keepM = append(keepU, u), append(keepM, msgs[n])
			}
		}
		clear(msgs[len(keepM):])
		uids, msgs = keepU, keepM
	}
	c.uids, c.msgs = uids, msgs
}

// maxSortOrders is how many SORT orders and THREAD trees a folder keeps.
const maxSortOrders = 4

// sortOrder is the result of one SORT or THREAD, kept: the order of uids
// (ascending, the messages sorted) by the key list spec, as indexes into
// uids, or (spec "THREAD alg") the thread tree with messages numbered by
// position in uids from 1. Keys of a message never change and ties go by
// mailbox order, which is UID order, so a result holds for as long as the
// same UIDs are sorted or threaded the same way: a client repeating a
// SORT (a list view refreshing) is answered without comparing again.
type sortOrder struct {
	spec  string
	uids  []uint32
	order []int32
	nodes []mailsort.Node
}

// find returns the kept result of uids by spec (moved to the front), or
// false.
func (c *sortCache) find(spec string, uids []uint32) (sortOrder, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, o := range c.orders {
		if o.spec == spec && slices.Equal(o.uids, uids) {
			copy(c.orders[1:i+1], c.orders[:i]) // most recent first
			c.orders[0] = o
			return o, true
		}
	}
	return sortOrder{}, false
}

// keep keeps o (its slices not changed later by the caller), dropping
// the least recent beyond maxSortOrders and any older one of o.spec.
func (c *sortCache) keep(o sortOrder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := make([]sortOrder, 0, maxSortOrders)
	kept = append(kept, o)
	for _, old := range c.orders {
		if old.spec != o.spec && len(kept) < maxSortOrders {
			kept = append(kept, old)
		}
	}
	c.orders = kept
}

// order returns the kept SORT order of uids by spec, nil if none.
func (c *sortCache) order(spec string, uids []uint32) []int32 {
	o, _ := c.find(spec, uids)
	return o.order
}

// putOrder keeps the SORT order of uids by spec.
func (c *sortCache) putOrder(spec string, uids []uint32, order []int32) {
	c.keep(sortOrder{spec: spec, uids: uids, order: order})
}

// threads returns the kept THREAD tree of uids by spec, nil if none.
func (c *sortCache) threads(spec string, uids []uint32) []mailsort.Node {
	o, _ := c.find(spec, uids)
	return o.nodes
}

// putThreads keeps the THREAD tree of uids by spec.
func (c *sortCache) putThreads(spec string, uids []uint32, nodes []mailsort.Node) {
	c.keep(sortOrder{spec: spec, uids: uids, nodes: nodes})
}
