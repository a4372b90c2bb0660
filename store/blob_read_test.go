package store

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestReadMessage: ReadMessage returns what OpenMessage streams (the
// trace prefix, then the body), appended to the buffer given; a body
// file shorter than its record is io.ErrUnexpectedEOF and a missing one
// ErrNotFound, through both the files fast path and the Open fallback.
func TestReadMessage(t *testing.T) {
	for _, name := range []string{"files", "open-fallback"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			files, err := NewFileBlobs(filepath.Join(dir, "blobs"), true)
			if err != nil {
				t.Fatal(err)
			}
			var blobs BlobStore = files
			if name == "open-fallback" {
				blobs = struct{ BlobStore }{files} // hides ReadBlob
			}
			s, err := Open(dir, Options{NoSync: true, Blobs: blobs})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			if err := s.AddDomain(t.Context(), Domain{Name: "example.com"}); err != nil {
				t.Fatal(err)
			}
			a, err := s.AddUser(t.Context(), "alice@example.com", "", "h")
			if err != nil {
				t.Fatal(err)
			}
			w, err := s.NewBlob(t.Context(), 0)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, testMsg)
			if err := w.Sync(); err != nil {
				t.Fatal(err)
			}
			d, err := s.Deliver(t.Context(), Delivery{Blob: w, Prefix: []byte("Received: by test\r\n"), Targets: []Target{{MailboxID: a.MailboxID}}})
			if err != nil {
				t.Fatal(err)
			}
			msgs, err := s.Messages(t.Context(), d[0].FolderID, []uint32{d[0].UID})
			if err != nil || len(msgs) != 1 {
				t.Fatalf("Messages: %v %v", msgs, err)
			}
			m := &msgs[0]
			rc, err := s.OpenMessage(t.Context(), m)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := io.ReadAll(rc)
			rc.Close()
			if string(want[:19]) != "Received: by test\r\n" || int64(len(want)) != m.Size {
				t.Fatalf("OpenMessage gave %d bytes %q..., record says %d", len(want), want[:19], m.Size)
			}
			got, err := s.ReadMessage(context.Background(), m, []byte("keep:"))
			if err != nil || string(got) != "keep:"+string(want) {
				t.Fatalf("ReadMessage = %q, %v; want %q", got, err, "keep:"+string(want))
			}

			path := files.(*fileBlobs).path(m.Blob)
			if err := os.Truncate(path, 10); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ReadMessage(context.Background(), m, nil); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("short body: %v, want io.ErrUnexpectedEOF", err)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ReadMessage(context.Background(), m, nil); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing body: %v, want ErrNotFound", err)
			}
		})
	}
}
