package imapd

import (
	"testing"

	"mailsrv/server/mailsort"
)

// The sort cache merges entries in any order into its UID order, finds
// them for any ascending UID list, keeps the first entry of a UID, and
// drops entries of gone messages once they outnumber the live ones.
func TestSortCacheMergeAndTrim(t *testing.T) {
	var c sortCache
	msg := map[uint32]*mailsort.Msg{}
	entry := func(u uint32) keyed {
		if msg[u] == nil {
			msg[u] = &mailsort.Msg{Size: int64(u)}
		}
		return keyed{u, msg[u]}
	}
	c.add([]keyed{entry(5), entry(1), entry(9)}, []uint32{1, 5, 9})
	c.add([]keyed{entry(7), entry(5), {5, &mailsort.Msg{Size: -1}}, entry(2)}, []uint32{1, 2, 5, 7, 9})
	got := c.lookup([]uint32{1, 2, 3, 5, 7, 8, 9, 10})
	for i, u := range []uint32{1, 2, 0, 5, 7, 0, 9, 0} {
		if (u == 0) != (got[i] == nil) || u != 0 && got[i] != msg[u] {
			t.Fatalf("lookup %d: %+v, want message %d", i, got[i], u)
		}
	}
	var many []keyed
	for u := uint32(100); u < 3100; u++ {
		many = append(many, entry(u))
	}
	c.add(many, []uint32{2, 3000})
	if len(c.uids) != 2 || c.uids[0] != 2 || c.uids[1] != 3000 || c.msgs[1] != msg[3000] {
		t.Fatalf("after trimming: %v", c.uids)
	}
}
