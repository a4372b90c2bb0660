package store

import (
	"context"
	"time"

	"mailsrv/store/kv"
)

// Delayed removal of bodies (BlobStores shared by several servers).
//
// When a message's last reference goes, the files BlobStore removes its
// body right after the commit: on one server, an IMAP session that still
// shows the message either has the file open (POSIX keeps it readable)
// or is told EXPUNGEISSUED. With S3 and several servers, a session on
// another server may still address the message until it has seen the
// EXPUNGE event, so the body must outlive its last reference for a while.
// Then unrefBlob writes a tombstone (bucket blobgone: id → u64 BE unix
// nanoseconds) in the transaction that dropped the reference, so the
// intent survives a crash, and SweepRemovedBlobs, run by serve's
// housekeeping, removes the bodies whose tombstone is older than the
// delay. The orphan sweep leaves tombstoned bodies to it.

// BlobRemoveDelay is how long a body outlives its last reference: 0 for
// the files BlobStore, the BlobStore's RemoveDelay for a shared one.
func (s *Store) BlobRemoveDelay() time.Duration { return s.blobRemoveDelay }

// dropBlob is called in the transaction that removed blob id's last
// reference.
func (t *Tx) dropBlob(id string) error {
	if t.s.blobRemoveDelay > 0 {
		return bucket(t.tx, "blobgone").Put([]byte(id), u64(uint64(t.s.now().UnixNano())))
	}
	if inline, err := t.dropInline(id); inline || err != nil {
		return err // a body in the database goes with this very commit
	}
	t.AfterCommit(func() { t.s.removeBlobFile(id) })
	return nil
}

// removeBatch bounds the tombstones one sweep transaction deletes.
const removeBatch = 1000

// SweepRemovedBlobs removes the bodies whose last reference went more
// than BlobRemoveDelay ago, and returns how many. The bodies go first,
// then their tombstones, so a crash in between only repeats a removal.
func (s *Store) SweepRemovedBlobs(ctx context.Context) (int, error) {
	cutoff := uint64(s.now().Add(-s.blobRemoveDelay).UnixNano())
	removed := 0
	for {
		var due [][]byte
		inline := map[string]bool{} // bodies in the database (blob_inline.go)
		err := s.view(ctx, func(tx kv.Tx) error {
			b := bucket(tx, "blobgone")
			if b == nil {
				return nil
			}
			return b.ForEach(func(k, v []byte) error {
				if len(due) < removeBatch && len(v) == 8 && getU64(v) <= cutoff {
					due = append(due, append([]byte(nil), k...))
					if isInline(tx, k) {
						inline[string(k)] = true
					}
				}
				return nil
			})
		})
		if err != nil || len(due) == 0 {
			return removed, err
		}
		for _, id := range due {
			if !inline[string(id)] {
				s.removeBlobFile(string(id))
			}
		}
		err = s.update(ctx, func(t *Tx) error {
			b := bucket(t.tx, "blobgone")
			for _, id := range due {
				if err := b.Delete(id); err != nil {
					return err
				}
				if inline[string(id)] {
					if _, err := t.dropInline(string(id)); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return removed, err
		}
		removed += len(due)
		if len(due) < removeBatch {
			return removed, nil
		}
	}
}

// pendingRemoval reports which of ids have a tombstone (the orphan sweep
// skips them).
func pendingRemoval(tx kv.Tx, id string) bool {
	b := bucket(tx, "blobgone")
	return b != nil && b.Get([]byte(id)) != nil
}
