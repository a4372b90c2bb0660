package store

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailsrv/auth/acl"
)

func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newTestStore(t testing.TB) *Store {
	t.Helper()
	return newTestStoreWith(t, Options{})
}

// newInlineTestStore is newTestStore with small bodies kept in the
// database (Options.InlineBodies, [blobs] inline_small_bodies).
func newInlineTestStore(t testing.TB) *Store {
	t.Helper()
	return newTestStoreWith(t, Options{InlineBodies: true})
}

// newFileTestStore is newTestStore with every body in a file (the
// default, spelt out), for tests of the files layout itself.
func newFileTestStore(t testing.TB) *Store {
	t.Helper()
	return newTestStoreWith(t, Options{InlineBodies: false})
}

// newTestStoreWith is newTestStore opened with opts.
func newTestStoreWith(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.AddDomain(t.Context(), Domain{Name: "Example.COM"}); err != nil {
		t.Fatal(err)
	}
	return s
}

const testMsg = "From: Bob <bob@remote.example>\r\nTo: alice@example.com\r\nSubject: hello\r\nMessage-ID: <m1@remote.example>\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\n\r\nbody\r\n"

func deliver(t testing.TB, s *Store, msg string, targets ...Target) []Delivered {
	t.Helper()
	w, err := s.NewBlob(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, msg)
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	d, err := s.Deliver(t.Context(), Delivery{Blob: w, Targets: targets})
	if err != nil {
		w.Abort()
		t.Fatal(err)
	}
	return d
}

func TestAccountsAliasesRoundTrip(t *testing.T) {
	s := newTestStore(t)
	if _, err := s.AddUser(t.Context(), "Alice@EXAMPLE.com", "Alice", "hash"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddUser(t.Context(), "alice@example.com", "", "h"); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate user: %v", err)
	}
	if _, err := s.AddUser(t.Context(), "bob@unknown.org", "", "h"); !errors.Is(err, ErrUnknownDomain) {
		t.Fatalf("unknown domain: %v", err)
	}
	if err := s.AddAlias(t.Context(), "postmaster@example.com", "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddUser(t.Context(), "postmaster@example.com", "", "h"); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "alias") {
		t.Fatalf("user over alias: %v", err)
	}
	if _, err := s.CreateShared(t.Context(), "info@example.com", "Info", "alice@example.com", "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddUser(t.Context(), "info@example.com", "", "h"); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "shared") {
		t.Fatalf("user over shared: %v", err)
	}
	users, _ := s.Users(t.Context())
	if len(users) != 1 || users[0].Address != "alice@example.com" || users[0].Name != "Alice" {
		t.Fatalf("users: %+v", users)
	}
	ids, err := s.Resolve(t.Context(), "POSTMASTER@example.com")
	if err != nil || len(ids) != 1 || ids[0] != users[0].MailboxID {
		t.Fatalf("resolve alias: %v %v", ids, err)
	}
	if _, err := s.Resolve(t.Context(), "nobody@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := s.Resolve(t.Context(), "x@other.org"); !errors.Is(err, ErrUnknownDomain) {
		t.Fatalf("remote: %v", err)
	}
	// A catch-all only applies to otherwise unknown addresses.
	if err := s.AddAlias(t.Context(), "@example.com", "info@example.com"); err != nil {
		t.Fatal(err)
	}
	info, _ := s.MailboxByAddress(t.Context(), "info@example.com")
	if ids, err := s.Resolve(t.Context(), "nobody@example.com"); err != nil || ids[0] != info.ID {
		t.Fatalf("catch-all: %v %v", ids, err)
	}
	if err := s.RemoveDomain(t.Context(), "example.com"); err == nil || !strings.Contains(err.Error(), "alice@example.com") {
		t.Fatalf("remove used domain: %v", err)
	}
	if err := s.RemoveAlias(t.Context(), "postmaster@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveAlias(t.Context(), "postmaster@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestIDNAAddress(t *testing.T) {
	got, err := NormalizeAddress("Jörg@Bücher.Example")
	if err != nil || got != "jörg@xn--bcher-kva.example" {
		t.Fatalf("%q %v", got, err)
	}
	for _, bad := range []string{"", "nodomain", "@x.org", "a@", "a b@x.org", "a..b@x.org", "a@localhost"} {
		if _, err := NormalizeAddress(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDefaultFoldersAndUIDsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.AddDomain(t.Context(), Domain{Name: "example.com"})
	acct, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	fs, _ := s.Folders(t.Context(), acct.MailboxID)
	var names []string
	for _, f := range fs {
		names = append(names, f.Name+f.SpecialUse)
	}
	if got := strings.Join(names, ","); got != `INBOX,Archive\Archive,Drafts\Drafts,Junk\Junk,Sent\Sent,Trash\Trash` {
		t.Fatalf("folders: %s", got)
	}
	tg := Target{MailboxID: acct.MailboxID}
	d1 := deliver(t, s, testMsg, tg)
	d2 := deliver(t, s, testMsg, tg)
	if d1[0].UID != 1 || d2[0].UID != 2 {
		t.Fatalf("uids %d %d", d1[0].UID, d2[0].UID)
	}
	// Expunging the last message must not let its UID be reused.
	if _, err := s.Expunge(t.Context(), d2[0].FolderID, []uint32{2}, ""); err != nil {
		t.Fatal(err)
	}
	inbox, _ := s.GetFolder(t.Context(), acct.MailboxID, "inbox")
	s.Close()

	s = openTest(t, dir)
	d3 := deliver(t, s, testMsg, tg)
	if d3[0].UID != 3 {
		t.Fatalf("uid after reopen %d", d3[0].UID)
	}
	inbox2, _ := s.GetFolder(t.Context(), acct.MailboxID, "INBOX")
	if inbox2.UIDValidity != inbox.UIDValidity || inbox2.Messages != 2 || inbox2.Unseen != 2 {
		t.Fatalf("inbox after reopen %+v", inbox2)
	}
	msgs, _ := s.Messages(t.Context(), inbox2.ID, []uint32{1, 2, 3})
	if len(msgs) != 2 || msgs[0].Envelope.Subject != "hello" || msgs[0].Envelope.From[0].Addr() != "bob@remote.example" || msgs[0].Envelope.MessageID != "<m1@remote.example>" {
		t.Fatalf("messages %+v", msgs)
	}
}

func TestFlagsExpungeAndBlobLifetime(t *testing.T) {
	s := newFileTestStore(t)
	a, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	b, _ := s.AddUser(t.Context(), "bob@example.com", "", "h")
	d := deliver(t, s, testMsg, Target{MailboxID: a.MailboxID}, Target{MailboxID: b.MailboxID, Flags: []string{`\Seen`}})
	msgs, _ := s.Messages(t.Context(), d[0].FolderID, []uint32{d[0].UID})
	blob := s.blobPath(msgs[0].Blob)

	var events []Event
	var mu sync.Mutex
	cancel := s.Subscribe(func(ev Event) { mu.Lock(); events = append(events, ev); mu.Unlock() })
	defer cancel()

	got, err := s.StoreFlags(t.Context(), d[0].FolderID, []uint32{d[0].UID}, FlagsAdd, []string{`\Seen`, `\Deleted`}, "")
	if err != nil || strings.Join(got[d[0].UID], " ") != `\Deleted \Seen` {
		t.Fatalf("flags %v %v", got, err)
	}
	f, _ := s.FolderByID(t.Context(), d[0].FolderID)
	if f.Unseen != 0 {
		t.Fatalf("unseen %d", f.Unseen)
	}
	if rm, err := s.Expunge(t.Context(), d[0].FolderID, nil, ""); err != nil || len(rm) != 1 {
		t.Fatalf("expunge %v %v", rm, err)
	}
	if _, err := os.Stat(blob); err != nil {
		t.Fatalf("blob removed while bob still references it: %v", err)
	}
	if _, err := s.Expunge(t.Context(), d[1].FolderID, []uint32{d[1].UID}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(blob); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("blob kept after last reference: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 3 || events[0].Kind != EventFlags || events[1].Kind != EventExpunge || events[2].Kind != EventExpunge {
		t.Fatalf("events %+v", events)
	}
}

func TestCopyMoveAndFolderOps(t *testing.T) {
	s := newTestStore(t)
	a, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	d := deliver(t, s, testMsg, Target{MailboxID: a.MailboxID, Flags: []string{"$Work"}})
	arch, _ := s.GetFolder(t.Context(), a.MailboxID, "Archive")
	res, err := s.Move(t.Context(), d[0].FolderID, []uint32{d[0].UID}, arch.ID, "")
	if err != nil || len(res.DestUIDs) != 1 || res.DestUIDValidity != arch.UIDValidity {
		t.Fatalf("move %+v %v", res, err)
	}
	fl, _ := s.FolderFlags(t.Context(), arch.ID)
	if len(fl) != 1 || fl[0].Flags[0] != "$Work" {
		t.Fatalf("flags after move %+v", fl)
	}
	if fl, _ := s.FolderFlags(t.Context(), d[0].FolderID); len(fl) != 0 {
		t.Fatalf("source not empty %+v", fl)
	}
	if _, err := s.CreateFolder(t.Context(), a.MailboxID, "Projects/2026", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateFolder(t.Context(), a.MailboxID, "Projects", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameFolder(t.Context(), a.MailboxID, "Projects", "Work"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetFolder(t.Context(), a.MailboxID, "Work/2026"); err != nil {
		t.Fatalf("child not renamed: %v", err)
	}
	if err := s.DeleteFolder(t.Context(), a.MailboxID, "INBOX"); err == nil {
		t.Fatal("INBOX deleted")
	}
	if err := s.DeleteFolder(t.Context(), a.MailboxID, "Archive"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateFolder(t.Context(), a.MailboxID, "Archive", ""); err != nil {
		t.Fatal(err)
	}
	arch2, _ := s.GetFolder(t.Context(), a.MailboxID, "Archive")
	if arch2.UIDValidity == arch.UIDValidity {
		t.Fatal("re-created folder reuses UIDVALIDITY")
	}
}

func TestRightsAndRemoveUser(t *testing.T) {
	s := newTestStore(t)
	alice, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	s.AddUser(t.Context(), "bob@example.com", "", "h")
	info, err := s.CreateShared(t.Context(), "info@example.com", "Info", "alice@example.com", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := s.RightsOf(t.Context(), info.ID, "alice@example.com"); r != acl.All {
		t.Fatalf("owner rights %v", r)
	}
	if r, _ := s.RightsOf(t.Context(), alice.MailboxID, "alice@example.com"); r != acl.All {
		t.Fatalf("own mailbox %v", r)
	}
	if err := s.Grant(t.Context(), info.ID, "bob@example.com", acl.Read, 1, "admin"); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.RightsOf(t.Context(), info.ID, "bob@example.com"); r != acl.Read {
		t.Fatalf("bob %v", r)
	}
	if err := s.Grant(t.Context(), info.ID, "carol@example.com", acl.Read, 0, "admin"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown member: %v", err)
	}
	if err := s.Revoke(t.Context(), info.ID, "alice@example.com", "admin"); err == nil {
		t.Fatal("owner revoked")
	}
	if sh, _ := s.SharedFor(t.Context(), "bob@example.com"); len(sh) != 1 || sh[0].Mailbox.Address != "info@example.com" {
		t.Fatalf("shared for bob %+v", sh)
	}
	if _, err := s.RemoveUser(t.Context(), "alice@example.com"); err == nil || !strings.Contains(err.Error(), "owns shared mailbox") {
		t.Fatalf("remove owner: %v", err)
	}
	item, err := s.RemoveUser(t.Context(), "bob@example.com")
	if err != nil || len(item.ACL) != 1 {
		t.Fatalf("remove bob %+v %v", item, err)
	}
	if r, _ := s.RightsOf(t.Context(), info.ID, "bob@example.com"); r != 0 {
		t.Fatal("removed user keeps rights")
	}
	log, _ := s.AuditLog(t.Context(), info.ID, time.Time{})
	if len(log) < 2 || log[1].Action != "grant" {
		t.Fatalf("audit %+v", log)
	}
}

// TestConcurrentWritersGroupCommit: many goroutines deliver at once; every
// message gets a distinct UID and is stored exactly once.
func TestConcurrentWritersGroupCommit(t *testing.T) {
	s := newTestStore(t)
	a, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			w, err := s.NewBlob(t.Context(), 0)
			if err != nil {
				errs <- err
				return
			}
			fmt.Fprintf(w, "Subject: %d\r\n\r\nx\r\n", i)
			if err := w.Sync(); err != nil {
				errs <- err
				return
			}
			if _, err := s.Deliver(t.Context(), Delivery{Blob: w, Targets: []Target{{MailboxID: a.MailboxID}}}); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	inbox, _ := s.GetFolder(t.Context(), a.MailboxID, "INBOX")
	fl, _ := s.FolderFlags(t.Context(), inbox.ID)
	if inbox.Messages != n || len(fl) != n || inbox.UIDNext != n+1 {
		t.Fatalf("messages %d flags %d uidnext %d", inbox.Messages, len(fl), inbox.UIDNext)
	}
}

// A failing request in a batch must not fail its neighbours.
func TestBatchIsolation(t *testing.T) {
	s := newTestStore(t)
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			addr := fmt.Sprintf("u%d@example.com", i)
			if i%5 == 0 {
				addr = "dup@example.com"
			}
			_, errs[i] = s.AddUser(t.Context(), addr, "", "h")
		}(i)
	}
	wg.Wait()
	dups := 0
	for i, err := range errs {
		if i%5 != 0 && err != nil {
			t.Fatalf("user %d: %v", i, err)
		}
		if i%5 == 0 && err != nil {
			dups++
		}
	}
	if dups != 9 {
		t.Fatalf("want 9 duplicate failures, got %d", dups)
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	dir := t.TempDir()
	openTest(t, dir)
	start := time.Now()
	_, err := Open(dir, Options{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("second open hung")
	}
}

func TestDeliverRefusesUnsyncedBlobAndAbortRemovesFile(t *testing.T) {
	s := newTestStore(t)
	w, _ := s.NewBlob(t.Context(), 10)
	if _, err := io.WriteString(w, "0123456789ABC"); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("limit: %v", err)
	}
	if _, err := s.Deliver(t.Context(), Delivery{Blob: w, Targets: []Target{{MailboxID: 1}}}); err == nil {
		t.Fatal("unsynced blob delivered")
	}
	w.Abort()
	if _, err := os.Stat(filepath.Join(s.blobDir, w.id[len(w.id)-2:], w.id)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("aborted blob left behind")
	}
}

func TestSnapshotRestores(t *testing.T) {
	s := newFileTestStore(t)
	a, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	deliver(t, s, testMsg, Target{MailboxID: a.MailboxID, Flags: []string{`\Flagged`}})
	var buf bytes.Buffer
	st, err := s.Snapshot(t.Context(), &buf)
	if err != nil || st.Blobs != 1 {
		t.Fatalf("snapshot %+v %v", st, err)
	}
	// Restore into a fresh directory and read the message back.
	dir := t.TempDir()
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name)
		os.MkdirAll(filepath.Dir(p), 0o700)
		f, _ := os.Create(p)
		io.Copy(f, tr)
		f.Close()
	}
	r := openTest(t, dir)
	inbox, err := r.GetFolder(t.Context(), a.MailboxID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := r.Messages(t.Context(), inbox.ID, []uint32{1})
	rc, err := r.OpenMessage(t.Context(), &msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if string(body) != testMsg || msgs[0].Flags[0] != `\Flagged` {
		t.Fatalf("restored %q %v", body, msgs[0].Flags)
	}
}

// A subscriber that panics (go-imap's tracker does on an inconsistent
// update) must not stop the committer: later writes still commit and the
// other subscribers still hear about them.
func TestPanickingSubscriberDoesNotStopWrites(t *testing.T) {
	s, err := Open(t.TempDir(), Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddDomain(t.Context(), Domain{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddUser(t.Context(), "alice@example.com", "", "x")
	if err != nil {
		t.Fatal(err)
	}
	s.Subscribe(func(Event) { panic("subscriber bug") })
	got := make(chan Event, 10)
	s.Subscribe(func(ev Event) { got <- ev })
	for i := 0; i < 2; i++ {
		deliver(t, s, testMsg, Target{MailboxID: a.MailboxID})
		select {
		case ev := <-got:
			if ev.Kind != EventNew {
				t.Fatalf("event %v", ev.Kind)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the healthy subscriber heard nothing")
		}
	}
}
