package store

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// blobReader is implemented by a BlobStore that can read a whole small
// body more cheaply than Open + Read + Close (files: open, one pread,
// close, without registering the descriptor with the runtime poller).
type blobReader interface {
	// ReadBlob appends body id, expected to be size bytes, to dst. A
	// body shorter than size is an error matching io.ErrUnexpectedEOF;
	// a missing one matches ErrNotFound.
	ReadBlob(ctx context.Context, id string, size int64, dst []byte) ([]byte, error)
}

// ReadMessage appends the whole message m (its stored prefix, then its
// body) to dst and returns it. It is for messages small enough to hold in
// memory: the caller has checked m.Size. A body shorter than its record
// says is an error matching io.ErrUnexpectedEOF (the caller may stream it
// instead, with OpenMessage); a missing one matches ErrNotFound.
func (s *Store) ReadMessage(ctx context.Context, m *Message, dst []byte) ([]byte, error) {
	if !validBlobID(m.Blob) {
		return dst, fmt.Errorf("bad blob id %q", m.Blob)
	}
	size := m.Size - int64(len(m.Prefix))
	if size < 0 {
		return dst, fmt.Errorf("message body %s: size %d below its prefix: %w", m.Blob, m.Size, io.ErrUnexpectedEOF)
	}
	dst = append(dst, m.Prefix...)
	if out, ok, err := s.readInline(ctx, m.Blob, size, dst); ok || err != nil {
		return out, err // a small body in the database (blob_inline.go)
	}
	if br, ok := s.blobs.(blobReader); ok {
		return br.ReadBlob(ctx, m.Blob, size, dst)
	}
	rc, err := s.blobs.Open(ctx, m.Blob)
	if err != nil {
		return dst, err
	}
	defer rc.Close()
	return readFull(rc, size, dst)
}

// readFull appends exactly size bytes of r to dst.
func readFull(r io.Reader, size int64, dst []byte) ([]byte, error) {
	start := len(dst)
	dst = grow(dst, size)
	n, err := io.ReadFull(r, dst[start:start+int(size)])
	dst = dst[:start+n]
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return dst, err
}

// grow returns dst with room for n more bytes.
func grow(dst []byte, n int64) []byte {
	if int64(cap(dst)-len(dst)) < n {
		nd := make([]byte, len(dst), len(dst)+int(n))
		copy(nd, dst)
		dst = nd
	}
	return dst
}
