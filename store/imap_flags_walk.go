package store

import "mailsrv/store/kv"

// flagSets hands out the split form of a folder's stored flag values,
// one slice per distinct value within one read: most messages of a folder
// share a handful of flag sets (none, \Seen, \Seen \Answered), so FETCH
// 1:* (FLAGS) allocates per distinct set, not per message.
type flagSets struct {
	last  []byte
	lastF []string
	m     map[string][]string
}

// split returns splitFlags(v), shared with earlier equal values. v may
// be a database page: it is copied, never kept.
func (f *flagSets) split(v []byte) []string {
	if len(v) == 0 {
		return nil
	}
	if f.lastF != nil && string(v) == string(f.last) {
		return f.lastF
	}
	fl, ok := f.m[string(v)]
	if !ok {
		if f.m == nil {
			f.m = map[string][]string{}
		}
		if len(f.m) >= 64 { // many distinct keyword sets: stop sharing
			return splitFlags(v)
		}
		fl = splitFlags(v)
		fl = fl[:len(fl):len(fl)]
		f.m[string(v)] = fl
	}
	f.last, f.lastF = append(f.last[:0], v...), fl
	return fl
}

// modSeqWalk reads the modseqs of ascending UIDs with one cursor over the
// folder's modseq bucket (nil in an unmigrated folder: every modseq is 1,
// as modSeqOf says).
type modSeqWalk struct {
	c kv.Cursor
	k []byte
	v []byte
}

func newModSeqWalk(q kv.Bucket, from uint32) *modSeqWalk {
	w := &modSeqWalk{}
	if q != nil {
		w.c = q.Cursor()
		w.k, w.v = w.c.Seek(u32(from))
	}
	return w
}

// of returns uid's modseq; uids must be asked in ascending order.
func (w *modSeqWalk) of(uid uint32) uint64 {
	if w.c == nil {
		return 1
	}
	for w.k != nil && getU32(w.k) < uid {
		w.k, w.v = w.c.Next()
	}
	if w.k != nil && getU32(w.k) == uid && len(w.v) == 8 {
		return getU64(w.v)
	}
	return 1
}
