package store

import (
	"bytes"
	"context"
	"fmt"

	"mailsrv/store/kv"
)

// FirstUnseen returns the lowest UID of folder fid without \Seen (ok false
// if every message has it). It walks the compact flags bucket in UID order
// and stops at the first such message, without decoding the others' flags,
// so an IMAP4rev1 SELECT ([UNSEEN n]) does not copy every flag list of the
// folder.
func (s *Store) FirstUnseen(ctx context.Context, fid uint64) (uid uint32, ok bool, err error) {
	err = s.view(ctx, func(tx kv.Tx) error {
		fm := bucket(tx, "msgs").Bucket(u64(fid))
		if fm == nil {
			return fmt.Errorf("folder id %d: %w", fid, ErrNotFound)
		}
		c := fm.Bucket(bktFlags).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if !hasFlagBytes(v, FlagSeen) {
				uid, ok = getU32(k), true
				return nil
			}
		}
		return nil
	})
	return uid, ok, err
}

// hasFlagBytes reports whether a stored flag list (flags joined by single
// spaces) holds flag.
func hasFlagBytes(v []byte, flag string) bool {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ' ')
		if i < 0 {
			return string(v) == flag
		}
		if string(v[:i]) == flag {
			return true
		}
		v = v[i+1:]
	}
	return false
}
