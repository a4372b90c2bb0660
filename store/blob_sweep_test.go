package store

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// blobPath is where the files BlobStore keeps body id.
func (s *Store) blobPath(id string) string {
	return filepath.Join(s.blobDir, id[len(id)-2:], id)
}

func TestSweepOrphanBlobs(t *testing.T) {
	s := newFileTestStore(t)
	alice, err := s.AddUser(t.Context(), "alice@example.com", "", "x")
	if err != nil {
		t.Fatal(err)
	}
	newBlob := func(text string) *BlobWriter {
		w, err := s.NewBlob(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, text)
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		return w
	}
	age := func(w *BlobWriter, d time.Duration) {
		old := time.Now().Add(-d)
		if err := os.Chtimes(s.blobPath(w.ID()), old, old); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(w *BlobWriter) bool {
		_, err := os.Stat(s.blobPath(w.ID()))
		return err == nil
	}

	// A delivered message, old: referenced, kept.
	kept := newBlob("Subject: kept\r\n\r\nbody\r\n")
	if _, err := s.Deliver(t.Context(), Delivery{Blob: kept, Targets: []Target{{MailboxID: alice.MailboxID}}}); err != nil {
		t.Fatal(err)
	}
	age(kept, 48*time.Hour)
	// A crash leftover: written, never delivered, old: removed.
	orphan := newBlob("Subject: half\r\n")
	age(orphan, 48*time.Hour)
	// A body still being received (young, unreferenced): kept.
	young := newBlob("Subject: in flight\r\n")

	n, err := s.SweepOrphanBlobs(t.Context(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || exists(orphan) || !exists(kept) || !exists(young) {
		t.Fatalf("removed %d; orphan exists %v, kept exists %v, young exists %v",
			n, exists(orphan), exists(kept), exists(young))
	}
	// Idempotent.
	if n, err := s.SweepOrphanBlobs(t.Context(), 24*time.Hour); err != nil || n != 0 {
		t.Fatalf("second sweep removed %d, %v", n, err)
	}
}
