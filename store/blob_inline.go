package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"

	"mailsrv/store/kv"
)

// Small message bodies in the database (bucket blobinline).
//
// A files BlobStore makes a body durable with its own fsync (a new file:
// inode, directory entry, data) before the delivery's commit fsyncs the
// database, so every message costs three synchronous flushes (the body's,
// and bbolt's two). Most mail is small: a body of at most inlineMax bytes
// is instead written by Deliver into bucket blobinline (blob id → bytes)
// of the very transaction that references it, so one commit makes body
// and metadata durable together and nothing is acknowledged earlier than
// before. Larger bodies, and every body of a store whose BlobStore is not
// the local files one, go to the BlobStore as before.
//
// It is off by default (Options.InlineBodies, config [blobs]
// inline_small_bodies): SPEC §3 and §7 make every body a file under
// data_dir/blobs, written and fsynced before the metadata commit, and
// operators and tools may rely on that layout. Bodies already inline
// stay readable when the option is turned off again.
//
// Ids are one namespace: a body is either in blobinline or in the
// BlobStore, never both, and everything that follows blob references
// (OpenBlob, dropBlob, SweepRemovedBlobs, Snapshot, Restore, CopyTo)
// looks in blobinline first. A store opened on a database written before
// this existed finds no inline bodies and reads its files as it always
// did (schema 3 only adds the bucket). Inline bodies need no orphan
// sweep: one that was never committed never reached the disk.
//
// Until its delivery commits, a small body lives only in its BlobWriter;
// OpenBlob still finds it by id (the spam filter and the DKIM signer read
// a message before it is delivered, as they would read its file), through
// the store's pending map. An entry leaves that map when the delivery
// commits, when the writer is aborted or spills into a file, and at the
// latest when the writer is garbage (runtime.AddCleanup), so a caller
// that drops a writer without Abort leaks nothing.

// bktInline is the bucket of small bodies.
const bktInline = "blobinline"

// defaultInlineMax is the largest body kept in the database. It may not
// exceed headCapture: the captured head is the whole body while it fits.
const defaultInlineMax = headCapture

// pendingBody is the head (and, while small, the whole body) of a
// BlobWriter, locked because OpenBlob may copy it from another goroutine.
type pendingBody struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (p *pendingBody) write(b []byte) {
	p.mu.Lock()
	p.b.Write(b)
	p.mu.Unlock()
}

func (p *pendingBody) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.b.Len()
}

// bytes returns the buffer itself: only for a writer no longer written.
func (p *pendingBody) bytes() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.b.Bytes()
}

func (p *pendingBody) clone() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.b.Bytes())
}

// holdPending makes w's body readable by id until it is delivered.
func (s *Store) holdPending(w *BlobWriter) {
	s.pending.Store(w.id, w.head)
	runtime.AddCleanup(w, func(id string) { s.pending.Delete(id) }, w.id)
}

func (s *Store) releasePending(id string) { s.pending.Delete(id) }

// spill moves a body that outgrew inlineMax into a BlobStore upload.
func (w *BlobWriter) spill() error {
	up, err := w.s.blobs.Create(w.ctx, w.id)
	if err != nil {
		return fmt.Errorf("create message body: %w", err)
	}
	if _, err := up.Write(w.head.bytes()); err != nil {
		up.Abort()
		return err
	}
	w.up = up
	w.s.releasePending(w.id) // its file has the bytes now
	return nil
}

// putInline writes a small synced body into the delivery's transaction.
// Delivering the same writer twice writes the same bytes again.
func (t *Tx) putInline(w *BlobWriter) error {
	b := bucket(t.tx, bktInline) // made at open (allBuckets)
	t.s.inlineSeen.Store(true)
	return b.Put([]byte(w.id), w.head.bytes())
}

// dropInline deletes id's body if it is in the database, and reports
// whether it was.
func (t *Tx) dropInline(id string) (bool, error) {
	b := bucket(t.tx, bktInline)
	if b == nil || b.Get([]byte(id)) == nil {
		return false, nil
	}
	return true, b.Delete([]byte(id))
}

// isInline reports whether id's body is in the database.
func isInline(tx kv.Tx, id []byte) bool {
	b := bucket(tx, bktInline)
	return b != nil && b.Get(id) != nil
}

// openInline returns a reader of id's body if it is a pending one or in
// the database; ok false means: ask the BlobStore.
func (s *Store) openInline(ctx context.Context, id string) (r io.ReadCloser, ok bool, err error) {
	if p, found := s.pending.Load(id); found {
		return &inlineReader{bytes.NewReader(p.(*pendingBody).clone())}, true, nil
	}
	if !s.inlineSeen.Load() {
		return nil, false, nil
	}
	var body []byte
	err = s.view(ctx, func(tx kv.Tx) error {
		if b := bucket(tx, bktInline); b != nil {
			if v := b.Get([]byte(id)); v != nil {
				body, ok = bytes.Clone(v), true
			}
		}
		return nil
	})
	if err != nil || !ok {
		return nil, false, err
	}
	return &inlineReader{bytes.NewReader(body)}, true, nil
}

// readInline is ReadMessage's openInline: it appends id's body, expected
// to be size bytes, to dst straight from the database page.
func (s *Store) readInline(ctx context.Context, id string, size int64, dst []byte) (out []byte, ok bool, err error) {
	if p, found := s.pending.Load(id); found {
		out, err := readFull(bytes.NewReader(p.(*pendingBody).clone()), size, dst)
		return out, true, err
	}
	if !s.inlineSeen.Load() {
		return dst, false, nil
	}
	out = dst
	err = s.view(ctx, func(tx kv.Tx) error {
		if b := bucket(tx, bktInline); b != nil {
			if v := b.Get([]byte(id)); v != nil {
				ok = true
				out, err = readFull(bytes.NewReader(v), size, dst)
				return err
			}
		}
		return nil
	})
	return out, ok, err
}

// inlineReader reads and seeks a body copied out of the database.
type inlineReader struct{ *bytes.Reader }

func (*inlineReader) Close() error { return nil }

// noteInline sets inlineSeen when the database holds inline bodies (at
// open: a store that never had one skips the lookup in OpenBlob).
func (s *Store) noteInline(ctx context.Context) error {
	return s.view(ctx, func(tx kv.Tx) error {
		if b := bucket(tx, bktInline); b != nil {
			if k, _ := b.Cursor().First(); k != nil {
				s.inlineSeen.Store(true)
			}
		}
		return nil
	})
}

// StoredBodies counts the bodies kept: those in the BlobStore (committed
// or left by an upload that never committed) and those in the database.
// Tests use it to check that a body is written once and a refused
// message leaves none behind, whichever layout holds it.
func (s *Store) StoredBodies(ctx context.Context) (int, error) {
	n := 0
	err := s.blobs.List(ctx, func(BlobInfo) error { n++; return nil })
	if err != nil {
		return 0, err
	}
	err = s.view(ctx, func(tx kv.Tx) error {
		if b := bucket(tx, bktInline); b != nil {
			n += b.KeyN()
		}
		return nil
	})
	return n, err
}
