package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// headCapture is how many leading bytes of a message a BlobWriter keeps in
// memory for header parsing (envelope cache). Longer headers are cut.
const headCapture = 64 << 10

// BlobWriter streams one message body to its blob file. Create it with
// NewBlob, Write the message, then Sync (fsync) before handing it to
// Deliver; Abort removes the file if the message is refused.
type BlobWriter struct {
	s     *Store
	id    string
	f     *os.File
	size  int64
	limit int64
	head  bytes.Buffer
	err   error
}

// newBlobID returns a unique, roughly time-ordered id.
func (s *Store) newBlobID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(s.now().UnixNano()))
	rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

func (s *Store) blobPath(id string) string {
	// Shard by the last two hex digits (random) to keep directories small.
	return filepath.Join(s.blobDir, id[len(id)-2:], id)
}

// NewBlob creates a new blob file. limit > 0 makes Write fail with
// ErrTooLarge once more than limit bytes were written.
func (s *Store) NewBlob(limit int64) (*BlobWriter, error) {
	id := s.newBlobID()
	f, err := s.createBlobFile(id)
	if err != nil {
		return nil, err
	}
	return &BlobWriter{s: s, id: id, f: f, limit: limit}, nil
}

// createBlobFile creates the empty file of blob id. Shard directories are
// made on first use only: a MkdirAll per message is a measurable cost.
func (s *Store) createBlobFile(id string) (*os.File, error) {
	p := s.blobPath(id)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	}
	return f, err
}

// ID returns the blob id.
func (w *BlobWriter) ID() string { return w.id }

// Size returns the bytes written so far.
func (w *BlobWriter) Size() int64 { return w.size }

// Write appends to the blob.
func (w *BlobWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.limit > 0 && w.size+int64(len(p)) > w.limit {
		w.err = ErrTooLarge
		return 0, w.err
	}
	if room := headCapture - w.head.Len(); room > 0 {
		w.head.Write(p[:min(room, len(p))])
	}
	n, err := w.f.Write(p)
	w.size += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

// Sync flushes the blob to stable storage and closes the file. After Sync
// the blob may be delivered.
func (w *BlobWriter) Sync() error {
	if w.err != nil {
		return w.err
	}
	if !w.s.noSync {
		if err := w.f.Sync(); err != nil {
			w.err = fmt.Errorf("fsync blob: %w", err)
			return w.err
		}
	}
	if err := w.f.Close(); err != nil {
		w.err = err
		return err
	}
	w.f = nil
	return nil
}

// Abort discards the blob. It is safe to call after Sync (when delivery
// failed) and more than once.
func (w *BlobWriter) Abort() {
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	os.Remove(w.s.blobPath(w.id))
}

// head returns the captured leading bytes.
func (w *BlobWriter) headBytes() []byte { return w.head.Bytes() }

// OpenBlob opens a blob for reading.
func (s *Store) OpenBlob(id string) (*os.File, error) {
	if len(id) < 2 || filepath.Base(id) != id {
		return nil, fmt.Errorf("bad blob id %q", id)
	}
	f, err := os.Open(s.blobPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("message body %s: %w", id, ErrNotFound)
	}
	return f, err
}

// OpenMessage returns a reader of the full message: the stored prefix
// (trace headers added at delivery) followed by the blob.
func (s *Store) OpenMessage(m *Message) (io.ReadCloser, error) {
	f, err := s.OpenBlob(m.Blob)
	if err != nil {
		return nil, err
	}
	if len(m.Prefix) == 0 {
		return f, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(m.Prefix), f), f}, nil
}

// removeBlobFile deletes a blob's file (after its last reference went),
// or defers that while a snapshot is being written.
func (s *Store) removeBlobFile(id string) {
	s.snap.mu.Lock()
	if s.snap.active > 0 {
		s.snap.pending = append(s.snap.pending, id)
		s.snap.mu.Unlock()
		return
	}
	s.snap.mu.Unlock()
	s.removeBlobFileNow(id)
}

func (s *Store) removeBlobFileNow(id string) {
	if err := os.Remove(s.blobPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("remove blob", "blob", id, "err", err)
	}
}
