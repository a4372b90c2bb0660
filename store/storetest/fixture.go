package storetest

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"mailsrv/store"
)

// fixture is one fresh store with a domain, two users and a shared
// mailbox owned by the first.
type fixture struct {
	t     *testing.T
	s     Backend
	alice *store.Account
	bob   *store.Account
	info  *store.Mailbox
}

const domain = "example.com"

func newFixture(t *testing.T, s Backend) *fixture {
	t.Helper()
	f := &fixture{t: t, s: s}
	f.must(s.AddDomain(t.Context(), store.Domain{Name: domain}))
	var err error
	f.alice, err = s.AddUser(t.Context(), "alice@"+domain, "Alice", "hash-a")
	f.must(err)
	f.bob, err = s.AddUser(t.Context(), "bob@"+domain, "Bob", "hash-b")
	f.must(err)
	f.info, err = s.CreateShared(t.Context(), "info@"+domain, "Info", f.alice.Address, "", 0)
	f.must(err)
	return f
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// msg is a small message whose Subject and body carry n.
func msg(n int) string {
	return fmt.Sprintf("From: Carol <carol@remote.example>\r\nTo: alice@example.com\r\n"+
		"Subject: message %d\r\nMessage-ID: <m%d@remote.example>\r\n"+
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n\r\nbody of message %d\r\n", n, n, n)
}

// blob writes body to a new, synced blob.
func (f *fixture) blob(body string) *store.BlobWriter {
	f.t.Helper()
	w, err := f.s.NewBlob(f.t.Context(), 0)
	f.must(err)
	if _, err := io.WriteString(w, body); err != nil {
		w.Abort()
		f.t.Fatal(err)
	}
	if err := w.Sync(); err != nil {
		f.t.Fatal(err)
	}
	return w
}

// deliver delivers body to the targets and returns where it landed.
func (f *fixture) deliver(body string, targets ...store.Target) []store.Delivered {
	f.t.Helper()
	w := f.blob(body)
	d, err := f.s.Deliver(f.t.Context(), store.Delivery{Blob: w, Targets: targets})
	if err != nil {
		w.Abort()
		f.t.Fatal(err)
	}
	return d
}

// folder returns a folder of mailbox mbid, failing the test if it is missing.
func (f *fixture) folder(mbid uint64, name string) *store.Folder {
	f.t.Helper()
	fo, err := f.s.GetFolder(f.t.Context(), mbid, name)
	f.must(err)
	return fo
}

// uids lists a folder's UIDs.
func (f *fixture) uids(fid uint64) []uint32 {
	f.t.Helper()
	u, err := f.s.FolderUIDs(f.t.Context(), fid)
	f.must(err)
	return u
}

// body reads one message back through the store.
func (f *fixture) body(fid uint64, uid uint32) string {
	f.t.Helper()
	ms, err := f.s.Messages(f.t.Context(), fid, []uint32{uid})
	f.must(err)
	if len(ms) != 1 {
		f.t.Fatalf("message %d of folder %d: got %d records", uid, fid, len(ms))
	}
	r, err := f.s.OpenMessage(f.t.Context(), &ms[0])
	f.must(err)
	defer r.Close()
	b, err := io.ReadAll(r)
	f.must(err)
	if int64(len(b)) != ms[0].Size {
		f.t.Errorf("message %d: Size %d, body is %d bytes", uid, ms[0].Size, len(b))
	}
	return string(b)
}

// flags returns uid's flags, sorted.
func (f *fixture) flags(fid uint64, uid uint32) []string {
	f.t.Helper()
	fl, err := f.s.FlagsOf(f.t.Context(), fid, []uint32{uid})
	f.must(err)
	if len(fl) != 1 {
		f.t.Fatalf("flags of %d: got %d entries", uid, len(fl))
	}
	out := slices.Clone(fl[0].Flags)
	slices.Sort(out)
	return out
}

// recorder collects change events as the store publishes them.
type recorder struct {
	mu     sync.Mutex
	events []store.Event
}

func (r *recorder) add(ev store.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

// wait returns the events once at least n arrived (events are published
// after the commit, possibly just after the write call returned).
func (r *recorder) wait(t *testing.T, n int) []store.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		got := slices.Clone(r.events)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d events, got %d: %+v", n, len(got), got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
