// Package blobtest is the conformance suite every store.BlobStore (the
// files under data_dir/blobs, an S3 bucket) must pass: what the store
// relies on when it writes, reads, lists and removes message bodies.
// Run calls it from each implementation's tests.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"mailsrv/store"
)

// Options describe the implementation under test.
type Options struct {
	// PartSize is the size above which an implementation has stored part
	// of an uncommitted body (S3: one multipart part); 0 means it writes
	// through at once (files).
	PartSize int64
}

// Run runs the suite; open returns an empty BlobStore for each subtest.
func Run(t *testing.T, open func(t *testing.T) store.BlobStore, o Options) {
	t.Run("CreateOpenStatList", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("Missing", func(t *testing.T) { testMissing(t, open(t)) })
	t.Run("Remove", func(t *testing.T) { testRemove(t, open(t)) })
	t.Run("AbortLeavesNothing", func(t *testing.T) { testAbort(t, open(t), o) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open(t)) })
	t.Run("Large", func(t *testing.T) { testLarge(t, open(t)) })
}

// NewID returns an id in the store's format (32 hex digits, time first).
func NewID() string {
	var b [16]byte
	ns := uint64(time.Now().UnixNano())
	for i := 0; i < 8; i++ {
		b[i] = byte(ns >> (56 - 8*i))
	}
	rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

// Put stores body under a new id and returns the id.
func Put(t testing.TB, bs store.BlobStore, body []byte) string {
	t.Helper()
	id := NewID()
	up, err := bs.Create(context.Background(), id)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := up.Write(body); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := up.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return id
}

// Read returns the whole body of id.
func Read(bs store.BlobStore, id string) ([]byte, error) {
	r, err := bs.Open(context.Background(), id)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// listed returns the listed infos by id.
func listed(t *testing.T, bs store.BlobStore) map[string]store.BlobInfo {
	t.Helper()
	m := map[string]store.BlobInfo{}
	if err := bs.List(context.Background(), func(b store.BlobInfo) error {
		if _, dup := m[b.ID]; dup {
			return fmt.Errorf("%s listed twice", b.ID)
		}
		m[b.ID] = b
		return nil
	}); err != nil {
		t.Fatalf("List: %v", err)
	}
	return m
}

func testRoundTrip(t *testing.T, bs store.BlobStore) {
	body := []byte("Subject: hello\r\n\r\nbody\r\n")
	before := time.Now().Add(-time.Minute)
	id := Put(t, bs, body)
	got, err := Read(bs, id)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("Open: %q, %v; want %q", got, err, body)
	}
	info, err := bs.Stat(context.Background(), id)
	if err != nil || info.ID != id || info.Size != int64(len(body)) {
		t.Fatalf("Stat = %+v, %v; want id %s size %d", info, err, id, len(body))
	}
	if info.Time.Before(before) || info.Time.After(time.Now().Add(time.Minute)) {
		t.Fatalf("Stat time %v, not about now", info.Time)
	}
	empty := Put(t, bs, nil)
	if got, err := Read(bs, empty); err != nil || len(got) != 0 {
		t.Fatalf("empty body: %q, %v", got, err)
	}
	l := listed(t, bs)
	if len(l) != 2 || l[id].Size != int64(len(body)) || l[id].Time.Before(before) {
		t.Fatalf("List = %+v; want %s (%d bytes, recent) and %s", l, id, len(body), empty)
	}
	if _, ok := l[empty]; !ok {
		t.Fatalf("List = %+v misses the empty body %s", l, empty)
	}
	// List stops at fn's error and returns it.
	stop := errors.New("stop")
	calls := 0
	if err := bs.List(context.Background(), func(store.BlobInfo) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("List with a failing fn: %v after %d calls", err, calls)
	}
}

func testMissing(t *testing.T, bs store.BlobStore) {
	id := NewID()
	if r, err := bs.Open(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("Open of a missing body: %v, want ErrNotFound", err)
	}
	if _, err := bs.Stat(context.Background(), id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Stat of a missing body: %v, want ErrNotFound", err)
	}
	if err := bs.Remove(context.Background(), id); err != nil {
		t.Fatalf("Remove of a missing body: %v", err)
	}
}

func testRemove(t *testing.T, bs store.BlobStore) {
	keep := Put(t, bs, []byte("keep"))
	gone := Put(t, bs, []byte("gone"))
	if err := bs.Remove(context.Background(), gone); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(bs, gone); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Open after Remove: %v, want ErrNotFound", err)
	}
	if got, err := Read(bs, keep); err != nil || string(got) != "keep" {
		t.Fatalf("the other body: %q, %v", got, err)
	}
	if l := listed(t, bs); len(l) != 1 || l[keep].ID != keep {
		t.Fatalf("List after Remove = %+v, want only %s", l, keep)
	}
	// A committed body whose delivery failed is aborted: it goes too.
	id := NewID()
	up, err := bs.Create(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(up, "delivery failed")
	if err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := up.Abort(); err != nil {
		t.Fatalf("Abort after Commit: %v", err)
	}
	if _, err := Read(bs, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Open after Commit+Abort: %v, want ErrNotFound", err)
	}
}

func testAbort(t *testing.T, bs store.BlobStore, o Options) {
	sizes := []int64{10, 1 << 20}
	if o.PartSize > 0 {
		sizes = append(sizes, o.PartSize+1<<20) // one part already stored
	}
	for _, n := range sizes {
		id := NewID()
		up, err := bs.Create(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := up.Write(bytes.Repeat([]byte("x"), int(n))); err != nil {
			t.Fatal(err)
		}
		if err := up.Abort(); err != nil {
			t.Fatalf("Abort of %d bytes: %v", n, err)
		}
		if err := up.Abort(); err != nil {
			t.Fatalf("second Abort: %v", err)
		}
		if _, err := Read(bs, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Open after Abort of %d bytes: %v, want ErrNotFound", n, err)
		}
	}
	if l := listed(t, bs); len(l) != 0 {
		t.Fatalf("List after aborts = %+v, want nothing", l)
	}
	// An upload neither committed nor aborted (a crash) may leave
	// something; if it is listed, Remove clears it, as the orphan sweep
	// does.
	if o.PartSize > 0 {
		id := NewID()
		up, err := bs.Create(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := up.Write(bytes.Repeat([]byte("y"), int(o.PartSize+1))); err != nil {
			t.Fatal(err)
		}
		l := listed(t, bs)
		if _, ok := l[id]; !ok {
			t.Fatalf("an interrupted upload with a stored part is not listed (List = %+v): the orphan sweep could never remove it", l)
		}
		if err := bs.Remove(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if l := listed(t, bs); len(l) != 0 {
			t.Fatalf("List after removing the interrupted upload = %+v", l)
		}
	}
}

func testConcurrent(t *testing.T, bs store.BlobStore) {
	const writers, each = 8, 5
	var mu sync.Mutex
	want := map[string][]byte{}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				body := []byte(fmt.Sprintf("writer %d message %d %s\r\n", w, i, bytes.Repeat([]byte{'a' + byte(w)}, 1000*i)))
				id := NewID()
				up, err := bs.Create(context.Background(), id)
				if err != nil {
					errs <- err
					return
				}
				// Two writes, so concurrent uploads interleave.
				up.Write(body[:len(body)/2])
				up.Write(body[len(body)/2:])
				if err := up.Commit(); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				want[id] = body
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(want) != writers*each {
		t.Fatalf("%d bodies, want %d (ids collided?)", len(want), writers*each)
	}
	for id, body := range want {
		if got, err := Read(bs, id); err != nil || !bytes.Equal(got, body) {
			t.Fatalf("body %s: %d bytes, %v; want %d bytes", id, len(got), err, len(body))
		}
	}
	if l := listed(t, bs); len(l) != len(want) {
		t.Fatalf("List has %d bodies, want %d", len(l), len(want))
	}
}

// testLarge writes a 20 MiB body in 64 KiB writes (a large attachment:
// S3 uploads it in parts) and reads it back whole and from an offset.
func testLarge(t *testing.T, bs store.BlobStore) {
	const size = 20 << 20
	body := make([]byte, size)
	rand.Read(body)
	id := NewID()
	up, err := bs.Create(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < size; off += 64 << 10 {
		if _, err := up.Write(body[off:min(off+64<<10, size)]); err != nil {
			t.Fatal(err)
		}
	}
	if err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	r, err := bs.Open(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	r.Close()
	if err != nil || n != size || !bytes.Equal(h.Sum(nil), sha256Of(body)) {
		t.Fatalf("read back %d bytes (%v), want %d identical", n, err, size)
	}
	if info, err := bs.Stat(context.Background(), id); err != nil || info.Size != size {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
	r, err = bs.Open(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sk, ok := r.(io.Seeker)
	if !ok {
		t.Logf("%T does not seek: a partial FETCH reads from the start", r)
		return
	}
	for _, off := range []int64{size - 1000, 5 << 20, 100} {
		if _, err := sk.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 500)
		if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, body[off:off+500]) {
			t.Fatalf("500 bytes at %d after Seek: %v, or different", off, err)
		}
	}
}

func sha256Of(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
