package store

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// snapshotGuard defers blob file removals while a snapshot runs, so a
// snapshot never references a body that was deleted under it.
type snapshotGuard struct {
	mu      sync.Mutex
	active  int
	pending []string
}

// SnapshotStats describes a written snapshot.
type SnapshotStats struct {
	DBBytes int64 `json:"db_bytes"`
	Blobs   int   `json:"blobs"`
	Bytes   int64 `json:"bytes"`
}

// Snapshot writes a consistent online backup as a tar stream: the database
// as of one read transaction (mailsrv.db) and every body it references
// (blobs/…). Writes continue meanwhile; their effects are simply not in
// the snapshot. Restore = untar into an empty data directory.
func (s *Store) Snapshot(w io.Writer) (SnapshotStats, error) {
	s.snap.mu.Lock()
	s.snap.active++
	s.snap.mu.Unlock()
	defer s.endSnapshot()

	var st SnapshotStats
	tw := tar.NewWriter(w)
	var blobs []string
	// The database copy and the list of referenced blobs come from the same
	// read transaction. The tar goes to a local file, not a network client,
	// so holding the transaction while writing it is acceptable.
	err := s.view(func(tx *bolt.Tx) error {
		var db bytes.Buffer
		if _, err := tx.WriteTo(&db); err != nil {
			return err
		}
		st.DBBytes = int64(db.Len())
		if err := tw.WriteHeader(&tar.Header{Name: DBFile, Mode: 0o600, Size: int64(db.Len()), ModTime: s.now()}); err != nil {
			return err
		}
		if _, err := tw.Write(db.Bytes()); err != nil {
			return err
		}
		return bucket(tx, "blobrefs").ForEach(func(k, _ []byte) error {
			blobs = append(blobs, string(k))
			return nil
		})
	})
	if err != nil {
		return st, fmt.Errorf("snapshot database: %w", err)
	}
	for _, id := range blobs {
		n, err := s.tarBlob(tw, id)
		if err != nil {
			return st, fmt.Errorf("snapshot body %s: %w", id, err)
		}
		st.Blobs++
		st.Bytes += n
	}
	return st, tw.Close()
}

func (s *Store) tarBlob(tw *tar.Writer, id string) (int64, error) {
	f, err := os.Open(s.blobPath(id))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	rel, _ := filepath.Rel(s.dir, s.blobPath(id))
	if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o600, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
		return 0, err
	}
	return io.Copy(tw, f)
}

func (s *Store) endSnapshot() {
	s.snap.mu.Lock()
	s.snap.active--
	var run []string
	if s.snap.active == 0 {
		run, s.snap.pending = s.snap.pending, nil
	}
	s.snap.mu.Unlock()
	for _, id := range run {
		s.removeBlobFileNow(id)
	}
}
