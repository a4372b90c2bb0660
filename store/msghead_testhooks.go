package store

import (
	"context"
	"encoding/json"
	"fmt"

	"mailsrv/store/kv"
)

// EditRecordsForTest rewrites the JSON record of every message of folder
// fid with edit, leaving the head index alone (for tests that tell the
// two apart: which one a command answered from). It returns how many
// records it rewrote.
func (s *Store) EditRecordsForTest(ctx context.Context, fid uint64, edit func(*Message)) (int, error) {
	n := 0
	err := s.update(ctx, func(t *Tx) error {
		n = 0
		fm := bucket(t.tx, "msgs").Bucket(u64(fid))
		if fm == nil {
			return errorf(ErrNotFound, "folder %d not found", fid)
		}
		mb := fm.Bucket(bktRecords)
		var msgs []Message
		if err := mb.ForEach(func(k, v []byte) error {
			var m Message
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("record %x: %w", k, err)
			}
			msgs = append(msgs, m)
			return nil
		}); err != nil {
			return err
		}
		for i := range msgs {
			edit(&msgs[i])
			if err := putJSON(mb, u32(msgs[i].UID), &msgs[i]); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// DropHeadsForTest removes the head and sort-key indexes of folder fid,
// as a store from before the indexes left it.
func (s *Store) DropHeadsForTest(ctx context.Context, fid uint64) error {
	return s.update(ctx, func(t *Tx) error {
		return dropHeads(t.tx, fid)
	})
}

func dropHeads(tx kv.Tx, fid uint64) error {
	fm := bucket(tx, "msgs").Bucket(u64(fid))
	if fm == nil {
		return errorf(ErrNotFound, "folder %d not found", fid)
	}
	for _, name := range [][]byte{bktHeads, bktSortKeys} {
		if fm.Bucket(name) == nil {
			continue
		}
		if err := fm.DeleteBucket(name); err != nil {
			return err
		}
	}
	return nil
}
