package store

import (
	"context"
	"encoding/json"
	"fmt"
)

// DowngradeEnvelopesForTest rewrites every message record of folder fid as
// a store from before envelope version 1 wrote it (no cached References,
// no version), so tests outside the store can prove that such records are
// upgraded when read. It reports how many records it rewrote. Only tests
// call it; it exists so they need no access to the engine.
func (s *Store) DowngradeEnvelopesForTest(ctx context.Context, fid uint64) (int, error) {
	n := 0
	err := s.update(ctx, func(t *Tx) error {
		n = 0
		fm := bucket(t.tx, "msgs").Bucket(u64(fid))
		if fm == nil {
			return errorf(ErrNotFound, "folder %d not found", fid)
		}
		mb := fm.Bucket(bktRecords)
		type pair struct{ k, v []byte }
		var recs []pair
		err := mb.ForEach(func(k, v []byte) error {
			var rec map[string]json.RawMessage
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("record %x: %w", k, err)
			}
			var env map[string]json.RawMessage
			if err := json.Unmarshal(rec["env"], &env); err != nil {
				return fmt.Errorf("envelope %x: %w", k, err)
			}
			delete(env, "refs")
			delete(env, "v")
			var err error
			if rec["env"], err = json.Marshal(env); err != nil {
				return err
			}
			raw, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			recs = append(recs, pair{append([]byte(nil), k...), raw})
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := mb.Put(r.k, r.v); err != nil {
				return err
			}
		}
		n = len(recs)
		return nil
	})
	return n, err
}
