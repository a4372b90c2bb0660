package store

import (
	"context"
	"time"

	"mailsrv/store/kv"
)

// SweepOrphanBlobs removes bodies that no message or queue entry
// references and that are older than minAge, and returns how many it
// removed.
//
// Orphans are what a crash leaves behind: a body written (or half
// written) by a session whose transaction never committed, so its sender
// never got 250 and will retry. They are harmless but would otherwise stay
// forever. minAge keeps the sweep away from bodies still being received
// or waiting for their commit; it must be far longer than any SMTP or
// IMAP APPEND transaction (a day is). Bodies awaiting a delayed removal
// (blob_remove.go) are left to SweepRemovedBlobs.
//
// The blob store is listed without a transaction open, the candidates
// are checked against blobrefs in short read transactions (sweepBatch at
// a time), and bodies are removed through the same path as a
// dereferenced one, so a snapshot in progress defers the removal.
func (s *Store) SweepOrphanBlobs(ctx context.Context, minAge time.Duration) (int, error) {
	cutoff := s.now().Add(-minAge)
	removed := 0
	var old []string
	// check removes the unreferenced ids among old.
	check := func() error {
		var orphans []string
		err := s.view(ctx, func(tx kv.Tx) error {
			refs := bucket(tx, "blobrefs")
			for _, id := range old {
				if refs.Get([]byte(id)) == nil && !pendingRemoval(tx, id) {
					orphans = append(orphans, id)
				}
			}
			return nil
		})
		old = old[:0]
		if err != nil {
			return err
		}
		for _, id := range orphans {
			s.removeBlobFile(id)
			removed++
		}
		return nil
	}
	err := s.blobs.List(ctx, func(b BlobInfo) error {
		if !b.Time.Before(cutoff) || !validBlobID(b.ID) {
			return nil // young, or not ours
		}
		old = append(old, b.ID)
		if len(old) < sweepBatch {
			return nil
		}
		return check()
	})
	if err == nil && len(old) > 0 {
		err = check()
	}
	return removed, err
}

// sweepBatch is how many old bodies one read transaction checks.
const sweepBatch = 1000
