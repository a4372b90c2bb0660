package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"
)

// BlobStore keeps message bodies ("blobs"), each under the id the store
// gave it when it was created. The store decides when a body is needed
// (its reference counts live in the metadata, bucket blobrefs); a
// BlobStore only keeps bytes. Two implementations exist: files under
// data_dir/blobs (fileBlobs, the default) and an S3 bucket
// (package store/s3blobs), for several servers sharing one organisation.
//
// Every method may be called concurrently.
type BlobStore interface {
	// Create starts a new body under id, which is unique (never used
	// before). The body is durable, and may be delivered, only after its
	// upload's Commit returned nil.
	Create(ctx context.Context, id string) (BlobUpload, error)
	// Open returns a reader of a committed body; a missing one is an
	// error matching ErrNotFound. The reader may also implement
	// io.Seeker (files and S3 both do), which a partial FETCH uses to
	// skip to its offset.
	Open(ctx context.Context, id string) (io.ReadCloser, error)
	// Stat returns a committed body's size and time (ErrNotFound if
	// missing).
	Stat(ctx context.Context, id string) (BlobInfo, error)
	// Remove deletes a body; a missing one is not an error.
	Remove(ctx context.Context, id string) error
	// List calls fn for every body, committed or left by an upload that
	// never committed (the orphan sweep needs both), in no set order. An
	// error from fn stops the listing and is returned.
	List(ctx context.Context, fn func(BlobInfo) error) error
}

// BlobUpload is one body being written (BlobStore.Create).
type BlobUpload interface {
	io.Writer
	// Commit makes what was written durable (files: fsync; S3: the upload
	// completed). Nothing may be written after it.
	Commit() error
	// Abort discards the body, committed or not. It may be called more
	// than once, and after Commit (a delivery that failed).
	Abort() error
}

// BlobInfo describes a stored body.
type BlobInfo struct {
	ID   string
	Size int64
	// Time is when the body was written (file modification time, S3
	// LastModified): the orphan sweep spares young bodies.
	Time time.Time
}

// blobRemoveDelayer is implemented by a BlobStore whose bodies are
// shared by several servers (S3): the body of a message whose last
// reference went is removed only after this delay, so an IMAP session on
// another server that still addresses the expunged message (it has not
// seen the EXPUNGE yet) can still fetch it.
type blobRemoveDelayer interface {
	RemoveDelay() time.Duration
}

// headCapture is how many leading bytes of a message a BlobWriter keeps in
// memory for header parsing (envelope cache). Longer headers are cut.
const headCapture = 64 << 10

// BlobWriter streams one message body to the blob store. Create it with
// NewBlob, Write the message, then Sync (make it durable) before handing
// it to Deliver; Abort removes the body if the message is refused.
//
// A body of at most inlineMax bytes (blob_inline.go) never reaches the
// BlobStore: it stays in memory and Deliver writes it into its own
// transaction, so one commit makes body and metadata durable. The
// upload is created only when the body outgrows that.
type BlobWriter struct {
	s *Store
	// ctx is NewBlob's: the BlobStore upload a growing body spills into
	// is created in Write, which has none of its own.
	ctx   context.Context
	id    string
	up    BlobUpload // nil while the body is held in memory
	size  int64
	limit int64
	head  *pendingBody // the first headCapture bytes; the whole body while up is nil
	err   error
	done  bool // committed: Write refused
	// inline: Sync found the body small enough for the database
	// (Deliver puts it into bucket blobinline).
	inline bool
}

// newBlobID returns a unique, roughly time-ordered id: 16 hex digits of
// nanoseconds, then 16 random ones.
func (s *Store) newBlobID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(s.now().UnixNano()))
	rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

// NewBlob starts a new body. limit > 0 makes Write fail with ErrTooLarge
// once more than limit bytes were written.
func (s *Store) NewBlob(ctx context.Context, limit int64) (*BlobWriter, error) {
	id := s.newBlobID()
	w := &BlobWriter{s: s, ctx: ctx, id: id, limit: limit, head: &pendingBody{}}
	if s.inlineMax == 0 {
		up, err := s.blobs.Create(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("create message body: %w", err)
		}
		w.up = up
		return w, nil
	}
	s.holdPending(w) // readable by id before it is delivered, as a file would be
	return w, nil
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
	if w.done {
		return 0, fmt.Errorf("message body %s: write after Sync", w.id)
	}
	if w.limit > 0 && w.size+int64(len(p)) > w.limit {
		w.err = ErrTooLarge
		return 0, w.err
	}
	if w.up == nil {
		if w.size+int64(len(p)) <= w.s.inlineMax {
			w.head.write(p)
			w.size += int64(len(p))
			return len(p), nil
		}
		if err := w.spill(); err != nil {
			w.err = err
			return 0, err
		}
	}
	if room := headCapture - w.head.len(); room > 0 {
		w.head.write(p[:min(room, len(p))])
	}
	n, err := w.up.Write(p)
	w.size += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

// Sync makes the blob durable (fsync, or the completed upload). After Sync
// the blob may be delivered.
func (w *BlobWriter) Sync() error {
	if w.err != nil {
		return w.err
	}
	if w.done {
		return nil
	}
	if w.up == nil {
		// Small: durable with the delivery's commit (blob_inline.go).
		w.inline, w.done = true, true
		return nil
	}
	if err := w.up.Commit(); err != nil {
		w.err = fmt.Errorf("store message body: %w", err)
		return w.err
	}
	w.done = true
	return nil
}

// Abort discards the blob. It is safe to call after Sync (when delivery
// failed) and more than once.
func (w *BlobWriter) Abort() {
	w.s.releasePending(w.id)
	if w.up != nil {
		w.up.Abort()
	}
}

// head returns the captured leading bytes.
func (w *BlobWriter) headBytes() []byte { return w.head.bytes() }

// validBlobID refuses ids that could name something outside the blob
// store (a path, an S3 key with slashes): ids are the store's own hex.
func validBlobID(id string) bool {
	return len(id) >= 2 && !strings.ContainsAny(id, `/\.`) && !strings.ContainsRune(id, 0)
}

// OpenBlob opens a body for reading, as it was received (without the
// stored prefix). A missing body is an error matching ErrNotFound.
func (s *Store) OpenBlob(ctx context.Context, id string) (io.ReadCloser, error) {
	if !validBlobID(id) {
		return nil, fmt.Errorf("bad blob id %q", id)
	}
	if r, ok, err := s.openInline(ctx, id); ok || err != nil {
		return r, err
	}
	return s.blobs.Open(ctx, id)
}

// OpenMessage returns a reader of the full message: the stored prefix
// (trace headers added at delivery) followed by the blob. It implements
// io.Seeker when the blob's reader does.
func (s *Store) OpenMessage(ctx context.Context, m *Message) (io.ReadCloser, error) {
	body, err := s.OpenBlob(ctx, m.Blob)
	if err != nil {
		return nil, err
	}
	if len(m.Prefix) == 0 {
		return body, nil
	}
	mr := &messageReader{prefix: m.Prefix, body: body}
	if sk, ok := body.(io.Seeker); ok {
		return &seekableMessage{messageReader: mr, seeker: sk}, nil
	}
	return mr, nil
}

// messageReader reads prefix then body.
type messageReader struct {
	prefix []byte
	body   io.ReadCloser
	pos    int64 // offset in the whole message
}

func (r *messageReader) Read(p []byte) (int, error) {
	if r.pos < int64(len(r.prefix)) {
		n := copy(p, r.prefix[r.pos:])
		r.pos += int64(n)
		return n, nil
	}
	n, err := r.body.Read(p)
	r.pos += int64(n)
	return n, err
}

func (r *messageReader) Close() error { return r.body.Close() }

// seekableMessage is a messageReader whose body can seek.
type seekableMessage struct {
	*messageReader
	seeker io.Seeker
}

func (r *seekableMessage) Seek(offset int64, whence int) (int64, error) {
	abs := offset
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		abs += r.pos
	default:
		return r.pos, fmt.Errorf("message reader: whence %d not supported", whence)
	}
	if abs < 0 {
		return r.pos, fmt.Errorf("message reader: negative position")
	}
	if _, err := r.seeker.Seek(max(0, abs-int64(len(r.prefix))), io.SeekStart); err != nil {
		return r.pos, err
	}
	r.pos = abs
	return abs, nil
}

// removeBlobFile deletes a body (after its last reference went), or
// defers that while a snapshot is being written.
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

// removeBlobFileNow runs after the commit that dropped the last reference
// (or from a sweep): it has no caller's context, and a failure only leaves
// an orphan for SweepOrphanBlobs.
func (s *Store) removeBlobFileNow(id string) {
	if err := s.blobs.Remove(context.Background(), id); err != nil {
		s.log.Warn("remove blob", "blob", id, "err", err)
	}
}
