package store

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"
)

// maxWriteRecorder counts what a snapshot writes and the largest single
// Write: a snapshot that buffered the database first would hand it over
// in one Write of the database's size.
type maxWriteRecorder struct {
	buf      bytes.Buffer
	maxWrite int
}

func (w *maxWriteRecorder) Write(p []byte) (int, error) {
	w.maxWrite = max(w.maxWrite, len(p))
	return w.buf.Write(p)
}

// TestSnapshotStreams (issue 15: Snapshot streams): a database of
// several MiB reaches the snapshot's writer in pieces of bounded size,
// never in one piece held in memory, and the archive holds it whole.
func TestSnapshotStreams(t *testing.T) {
	s := newTestStore(t)
	a, err := s.AddUser(t.Context(), "alice@example.com", "Alice", "x")
	if err != nil {
		t.Fatal(err)
	}
	// Message heads live in the database: big headers grow it quickly.
	pad := "X-Pad: " + strings.Repeat("p", 990) + "\r\n"
	msg := "From: bob@remote.example\r\nSubject: big head\r\n" + strings.Repeat(pad, 8) + "\r\nbody\r\n"
	var ds []Delivery
	for range 400 {
		w, err := s.NewBlob(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, msg)
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, Delivery{Blob: w, Targets: []Target{{MailboxID: a.MailboxID}}})
	}
	if _, err := s.DeliverAll(t.Context(), ds); err != nil {
		t.Fatal(err)
	}
	var w maxWriteRecorder
	st, err := s.Snapshot(t.Context(), &w)
	if err != nil {
		t.Fatal(err)
	}
	const bound = 64 << 10
	if st.DBBytes < 4*bound {
		t.Fatalf("database is only %d bytes; the test needs one well over %d", st.DBBytes, bound)
	}
	if w.maxWrite > bound {
		t.Fatalf("largest write of the snapshot: %d bytes for a %d-byte database (buffered, not streamed)", w.maxWrite, st.DBBytes)
	}
	tr := tar.NewReader(&w.buf)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no %s in the archive: %v", DBFile, err)
		}
		if h.Name != DBFile {
			continue
		}
		n, err := io.Copy(io.Discard, tr)
		if err != nil || n != st.DBBytes {
			t.Fatalf("%s in the archive: %d bytes, %v; want %d", DBFile, n, err, st.DBBytes)
		}
		break
	}
	t.Logf("database %d bytes, largest write %d, %d bodies", st.DBBytes, w.maxWrite, st.Blobs)
}
