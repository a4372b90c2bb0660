package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"mailsrv/store/kv"
)

// FlagsOf returns the flags of the given UIDs of folder fid (missing ones
// are skipped), in the order given. It reads only the compact flags bucket,
// so IMAP "FETCH n:m (FLAGS)" never decodes message metadata. Entries
// with the same flags share one Flags slice (its capacity is its length,
// so an append copies): callers must not change a Flags slice in place.
func (s *Store) FlagsOf(ctx context.Context, fid uint64, uids []uint32) ([]UIDFlags, error) {
	out := make([]UIDFlags, 0, len(uids))
	err := s.view(ctx, func(tx kv.Tx) error {
		fm := bucket(tx, "msgs").Bucket(u64(fid))
		if fm == nil {
			return fmt.Errorf("folder id %d: %w", fid, ErrNotFound)
		}
		fb, q := fm.Bucket(bktFlags), fm.Bucket(bktModSeq)
		var seen flagSets
		if dense(uids) {
			// Ascending and dense (the usual FETCH 1:* chunk): one cursor
			// walk over the flags and one over the modseqs, instead of two
			// B-tree descents per UID.
			c := fb.Cursor()
			ms := newModSeqWalk(q, uids[0])
			i := 0
			for k, v := c.Seek(u32(uids[0])); k != nil && i < len(uids); k, v = c.Next() {
				uid := getU32(k)
				for i < len(uids) && uids[i] < uid {
					i++
				}
				if i < len(uids) && uids[i] == uid {
					out = append(out, UIDFlags{UID: uid, Flags: seen.split(v), ModSeq: ms.of(uid)})
					i++
				}
			}
			return nil
		}
		for _, uid := range uids {
			v := fb.Get(u32(uid))
			if v == nil {
				continue
			}
			out = append(out, UIDFlags{UID: uid, Flags: seen.split(v), ModSeq: modSeqOf(q, uid)})
		}
		return nil
	})
	return out, err
}

// dense reports whether uids ascend and span at most four times their
// count, so that walking the range beats looking each one up.
func dense(uids []uint32) bool {
	if len(uids) < 2 {
		return false
	}
	for i := 1; i < len(uids); i++ {
		if uids[i] <= uids[i-1] {
			return false
		}
	}
	return uint64(uids[len(uids)-1]-uids[0]) < 4*uint64(len(uids))
}

// FolderUIDs returns the UIDs of folder fid in ascending order, reading
// only the keys of the compact flags bucket (what IMAP SELECT needs to map
// sequence numbers to UIDs).
func (s *Store) FolderUIDs(ctx context.Context, fid uint64) ([]uint32, error) {
	var out []uint32
	err := s.view(ctx, func(tx kv.Tx) error {
		fm := bucket(tx, "msgs").Bucket(u64(fid))
		if fm == nil {
			return fmt.Errorf("folder id %d: %w", fid, ErrNotFound)
		}
		fb := fm.Bucket(bktFlags)
		out = make([]uint32, 0, fb.KeyN())
		c := fb.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			out = append(out, getU32(k))
		}
		return nil
	})
	return out, err
}

// AuditAction appends e to mailbox mbid's audit log in its own
// transaction. Protocol servers use it for delegate actions the store does
// not audit by itself (folder create, rename, delete).
func (s *Store) AuditAction(ctx context.Context, mbid uint64, e AuditEntry) error {
	return s.update(ctx, func(t *Tx) error {
		t.Audit(mbid, e)
		return nil
	})
}

// FolderKeywords returns the keywords of folder fid: those recorded on the
// folder (Folder.Keywords) and any its messages carry that it does not
// record (a folder written before keywords were recorded).
func (s *Store) FolderKeywords(ctx context.Context, fid uint64) ([]string, error) {
	var out []string
	err := s.view(ctx, func(tx kv.Tx) error {
		f, err := getFolderByIDTx(tx, fid)
		if err != nil {
			return err
		}
		out = slices.Clone(f.Keywords)
		fm := bucket(tx, "msgs").Bucket(u64(fid))
		if fm == nil {
			return fmt.Errorf("folder id %d: %w", fid, ErrNotFound)
		}
		return fm.Bucket(bktFlags).ForEach(func(_, v []byte) error {
			for len(v) > 0 {
				var tok []byte
				tok, v, _ = bytes.Cut(v, []byte(" "))
				if len(tok) > 0 && tok[0] != '\\' && !slices.Contains(out, string(tok)) {
					out = append(out, string(tok))
				}
			}
			return nil
		})
	})
	return out, err
}
