package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"mailsrv/store"
)

// Clock is a settable clock for store.Options.Now.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at the current time.
func NewClock() *Clock { return &Clock{t: time.Now()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// RunStore checks what the store does with a BlobStore: a delivered
// message is read back whole and from an offset (prefix and body), a
// body never delivered is swept as an orphan, a snapshot carries the
// bodies into a files data directory, and a body is removed once its last
// message is expunged (after the BlobStore's removal delay, if it has
// one). open returns an empty store over an empty BlobStore, using clk.
func RunStore(t *testing.T, open func(t *testing.T, clk *Clock) *store.Store) {
	t.Run("DeliverAndRead", func(t *testing.T) { testDeliverRead(t, open) })
	t.Run("OrphanSweep", func(t *testing.T) { testOrphanSweep(t, open) })
	t.Run("SnapshotRestore", func(t *testing.T) { testSnapshotRestore(t, open) })
	t.Run("ExpungeRemovesBody", func(t *testing.T) { testExpungeRemoves(t, open) })
}

type fixture struct {
	s     *store.Store
	clk   *Clock
	inbox uint64 // alice's mailbox id
}

func newFixture(t *testing.T, open func(t *testing.T, clk *Clock) *store.Store) *fixture {
	clk := NewClock()
	s := open(t, clk)
	if err := s.AddDomain(t.Context(), store.Domain{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddUser(t.Context(), "alice@example.com", "", "x")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{s: s, clk: clk, inbox: a.MailboxID}
}

// message is a header plus body of about size bytes.
func message(subject string, size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: bob@remote.example\r\nTo: alice@example.com\r\nSubject: " + subject + "\r\n\r\n")
	line := strings.Repeat("0123456789", 7) + "\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return b.Bytes()
}

// blob writes msg to a new synced body.
func (f *fixture) blob(t *testing.T, msg []byte) *store.BlobWriter {
	t.Helper()
	w, err := f.s.NewBlob(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	return w
}

func (f *fixture) deliver(t *testing.T, msg []byte, prefix string) (store.Delivered, *store.Message) {
	t.Helper()
	d, err := f.s.Deliver(t.Context(), store.Delivery{Blob: f.blob(t, msg), Prefix: []byte(prefix), Targets: []store.Target{{MailboxID: f.inbox}}})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := f.s.Messages(t.Context(), d[0].FolderID, []uint32{d[0].UID})
	if err != nil || len(ms) != 1 {
		t.Fatalf("Messages: %v, %v", ms, err)
	}
	return d[0], &ms[0]
}

func readMessage(ctx context.Context, s *store.Store, m *store.Message) ([]byte, error) {
	r, err := s.OpenMessage(ctx, m)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func testDeliverRead(t *testing.T, open func(*testing.T, *Clock) *store.Store) {
	f := newFixture(t, open)
	prefix := "Received: from remote.example by mx.example.com\r\n"
	msg := message("big", 6<<20) // above an S3 part
	_, m := f.deliver(t, msg, prefix)
	want := append([]byte(prefix), msg...)
	if got, err := readMessage(t.Context(), f.s, m); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("OpenMessage: %d bytes, %v; want %d", len(got), err, len(want))
	}
	if m.Envelope == nil || m.Envelope.Subject != "big" || m.Size != int64(len(want)) {
		t.Fatalf("message record %+v", m)
	}
	r, err := f.s.OpenMessage(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sk, ok := r.(io.Seeker)
	if !ok {
		t.Fatalf("OpenMessage gives %T, which cannot seek: a partial FETCH would read the whole body", r)
	}
	// Offsets inside the prefix, across its end, deep in the body, then
	// back: each read continues from where the seek put it.
	for _, off := range []int64{10, int64(len(prefix)) - 5, 5 << 20, 0, int64(len(want)) - 20} {
		if _, err := sk.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 20)
		if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, want[off:off+20]) {
			t.Fatalf("20 bytes at %d: %q, %v; want %q", off, got, err, want[off:off+20])
		}
	}
	// Blob without the prefix, as received.
	b, err := f.s.OpenBlob(t.Context(), m.Blob)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(b)
	b.Close()
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("OpenBlob: %d bytes, %v", len(got), err)
	}
	if _, err := f.s.OpenBlob(t.Context(), "0123456789abcdef0123456789abcdef"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("OpenBlob of a missing body: %v, want ErrNotFound", err)
	}
}

func testOrphanSweep(t *testing.T, open func(*testing.T, *Clock) *store.Store) {
	f := newFixture(t, open)
	_, kept := f.deliver(t, message("kept", 100), "")
	// A crash before the commit; above 64 KiB, so it is a BlobStore body
	// even where small ones go into the database with their commit.
	orphan := f.blob(t, message("never delivered", 100<<10))
	// Young: a body still being received, or waiting for its commit.
	if n, err := f.s.SweepOrphanBlobs(t.Context(), 24*time.Hour); err != nil || n != 0 {
		t.Fatalf("sweep of young bodies removed %d, %v", n, err)
	}
	f.clk.Advance(48 * time.Hour)
	n, err := f.s.SweepOrphanBlobs(t.Context(), 24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("sweep two days later removed %d, %v; want 1", n, err)
	}
	if _, err := f.s.OpenBlob(t.Context(), orphan.ID()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("orphan after the sweep: %v, want ErrNotFound", err)
	}
	if _, err := readMessage(t.Context(), f.s, kept); err != nil {
		t.Fatalf("delivered message after the sweep: %v", err)
	}
	if n, err := f.s.SweepOrphanBlobs(t.Context(), 24*time.Hour); err != nil || n != 0 {
		t.Fatalf("second sweep: %d, %v", n, err)
	}
}

func testSnapshotRestore(t *testing.T, open func(*testing.T, *Clock) *store.Store) {
	f := newFixture(t, open)
	msg := message("backed up", 300<<10)
	d, _ := f.deliver(t, msg, "X-Trace: 1\r\n")
	var buf bytes.Buffer
	st, err := f.s.Snapshot(t.Context(), &buf)
	if err != nil || st.Blobs != 1 || st.Bytes != int64(len(msg)) {
		t.Fatalf("Snapshot: %+v, %v", st, err)
	}
	dir := t.TempDir() + "/restored"
	if _, err := store.Restore(&buf, dir, nil); err != nil {
		t.Fatal(err)
	}
	r, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ms, err := r.Messages(t.Context(), d.FolderID, []uint32{d.UID})
	if err != nil || len(ms) != 1 {
		t.Fatalf("restored messages %v, %v", ms, err)
	}
	if got, err := readMessage(t.Context(), r, &ms[0]); err != nil || string(got) != "X-Trace: 1\r\n"+string(msg) {
		t.Fatalf("restored message: %d bytes, %v", len(got), err)
	}
}

func testExpungeRemoves(t *testing.T, open func(*testing.T, *Clock) *store.Store) {
	f := newFixture(t, open)
	d, m := f.deliver(t, message("expunged", 100), "")
	// An old message: its body is old to the orphan sweep once unreferenced.
	f.clk.Advance(48 * time.Hour)
	if _, err := f.s.Expunge(t.Context(), d.FolderID, []uint32{d.UID}, ""); err != nil {
		t.Fatal(err)
	}
	delay := f.s.BlobRemoveDelay()
	if delay > 0 {
		// Another server's session may still fetch it for a while; neither
		// sweep removes it early.
		if n, err := f.s.SweepOrphanBlobs(t.Context(), 24*time.Hour); err != nil || n != 0 {
			t.Fatalf("orphan sweep took %d bodies (%v) awaiting their delayed removal", n, err)
		}
		if n, err := f.s.SweepRemovedBlobs(t.Context()); err != nil || n != 0 {
			t.Fatalf("removal sweep before the delay: %d, %v", n, err)
		}
		if _, err := readMessage(t.Context(), f.s, m); err != nil {
			t.Fatalf("body right after the expunge, with a removal delay of %v: %v", delay, err)
		}
		f.clk.Advance(delay + time.Second)
		if n, err := f.s.SweepRemovedBlobs(t.Context()); err != nil || n != 1 {
			t.Fatalf("removal sweep after the delay removed %d, %v; want 1", n, err)
		}
	}
	if _, err := readMessage(t.Context(), f.s, m); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("body after its last message went: %v, want ErrNotFound", err)
	}
	if n, err := f.s.SweepRemovedBlobs(t.Context()); err != nil || n != 0 {
		t.Fatalf("removal sweep again: %d, %v", n, err)
	}
}
