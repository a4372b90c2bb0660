package store

import (
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SweepOrphanBlobs removes blob files that no message or queue entry
// references and that are older than minAge, and returns how many it
// removed.
//
// Orphans are what a crash leaves behind: a body written (or half
// written) by a session whose transaction never committed, so its sender
// never got 250 and will retry. They are harmless but would otherwise stay
// forever. minAge keeps the sweep away from bodies still being received
// or waiting for their commit; it must be far longer than any SMTP or
// IMAP APPEND transaction (a day is).
//
// The directory is listed without a transaction open, the candidates are
// checked against blobrefs in short read transactions, and files are
// removed through the same path as a dereferenced blob, so a snapshot in
// progress defers the removal.
func (s *Store) SweepOrphanBlobs(minAge time.Duration) (int, error) {
	cutoff := s.now().Add(-minAge)
	shards, err := os.ReadDir(s.blobDir)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, sh := range shards {
		if !sh.IsDir() {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(s.blobDir, sh.Name()))
		if err != nil {
			return removed, err
		}
		var old []string
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			info, err := e.Info()
			if err != nil || !info.ModTime().Before(cutoff) {
				continue // gone meanwhile, or young
			}
			old = append(old, e.Name())
		}
		if len(old) == 0 {
			continue
		}
		var orphans []string
		err = s.view(func(tx *bolt.Tx) error {
			refs := bucket(tx, "blobrefs")
			for _, id := range old {
				if refs.Get([]byte(id)) == nil {
					orphans = append(orphans, id)
				}
			}
			return nil
		})
		if err != nil {
			return removed, err
		}
		for _, id := range orphans {
			s.removeBlobFile(id)
			removed++
		}
	}
	return removed, nil
}
