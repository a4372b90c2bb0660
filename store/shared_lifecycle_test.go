package store

import (
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mailsrv/auth/acl"
	"mailsrv/internal/testkit"
)

func newClockStore(t *testing.T) (*Store, *testkit.Clock) {
	t.Helper()
	clk := testkit.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	s, err := Open(t.TempDir(), Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.AddDomain(t.Context(), Domain{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	return s, clk
}

func mustUser(t *testing.T, s *Store, addr string) *Account {
	t.Helper()
	a, err := s.AddUser(t.Context(), addr, "", "hash-"+addr)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func folderMsgs(t *testing.T, s *Store, mbid uint64, name string) []Message {
	t.Helper()
	f, err := s.GetFolder(t.Context(), mbid, name)
	if err != nil {
		t.Fatal(err)
	}
	fl, _ := s.FolderFlags(t.Context(), f.ID)
	var uids []uint32
	for _, x := range fl {
		uids = append(uids, x.UID)
	}
	ms, err := s.Messages(t.Context(), f.ID, uids)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestRightsLiveAfterGrantRevoke(t *testing.T) {
	s, _ := newClockStore(t)
	mustUser(t, s, "alice@example.com")
	mustUser(t, s, "bob@example.com")
	mb, err := s.CreateShared(t.Context(), "info@example.com", "Info", "alice@example.com", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	// A "session" checks rights per command: nothing before the grant.
	if r, _ := s.RightsOf(t.Context(), mb.ID, "bob@example.com"); r != 0 {
		t.Fatalf("before grant: %v", r)
	}
	if err := s.Grant(t.Context(), mb.ID, "bob@example.com", acl.Read|acl.Manage, 200, "admin"); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.RightsOf(t.Context(), mb.ID, "bob@example.com"); r&acl.Manage == 0 {
		t.Fatalf("after grant: %v", r)
	}
	if sf, _ := s.SharedFor(t.Context(), "bob@example.com"); len(sf) != 1 || sf[0].Mailbox.Address != "info@example.com" {
		t.Fatalf("SharedFor after grant: %+v", sf)
	}
	if err := s.Revoke(t.Context(), mb.ID, "bob@example.com", "admin"); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.RightsOf(t.Context(), mb.ID, "bob@example.com"); r != 0 {
		t.Fatalf("after revoke: %v", r)
	}
	if sf, _ := s.SharedFor(t.Context(), "bob@example.com"); len(sf) != 0 {
		t.Fatalf("SharedFor after revoke: %+v", sf)
	}
}

func TestRenameShared(t *testing.T) {
	s, _ := newClockStore(t)
	mustUser(t, s, "alice@example.com")
	mb, _ := s.CreateShared(t.Context(), "info@example.com", "Info", "alice@example.com", "", 0)
	var evs []Event
	var mu sync.Mutex
	cancel := s.Subscribe(func(e Event) { mu.Lock(); evs = append(evs, e); mu.Unlock() })
	defer cancel()

	if _, err := s.RenameShared(t.Context(), "info@example.com", "alice@example.com", "", "admin"); !errors.Is(err, ErrExists) {
		t.Fatalf("rename onto a user: %v", err)
	}
	if _, err := s.RenameShared(t.Context(), "nope@example.com", "x@example.com", "", "admin"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rename unknown: %v", err)
	}
	if _, err := s.RenameShared(t.Context(), "alice@example.com", "x@example.com", "", "admin"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rename personal: %v", err)
	}
	got, err := s.RenameShared(t.Context(), "info@example.com", "contact@example.com", "Contact", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != mb.ID || got.Address != "contact@example.com" || got.Name != "Contact" {
		t.Fatalf("renamed: %+v", got)
	}
	// The old address still delivers (alias), the new one directly.
	for _, a := range []string{"info@example.com", "contact@example.com"} {
		ids, err := s.Resolve(t.Context(), a)
		if err != nil || len(ids) != 1 || ids[0] != mb.ID {
			t.Fatalf("Resolve(%s) = %v, %v", a, ids, err)
		}
	}
	if sf, _ := s.SharedFor(t.Context(), "alice@example.com"); len(sf) != 1 || sf[0].Mailbox.Address != "contact@example.com" {
		t.Fatalf("SharedFor: %+v", sf)
	}
	// The old address is taken now (alias): a new mailbox cannot use it.
	if _, err := s.CreateShared(t.Context(), "info@example.com", "", "", "", 0); !errors.Is(err, ErrExists) {
		t.Fatalf("create over the old address: %v", err)
	}
	// Renaming back takes the old address (and its alias) back.
	if _, err := s.RenameShared(t.Context(), "contact@example.com", "info@example.com", "", "admin"); err != nil {
		t.Fatalf("rename back: %v", err)
	}
	if m, _ := s.MailboxByAddress(t.Context(), "info@example.com"); m == nil || m.ID != mb.ID {
		t.Fatalf("after rename back: %+v", m)
	}
	if ids, err := s.Resolve(t.Context(), "contact@example.com"); err != nil || ids[0] != mb.ID {
		t.Fatalf("contact@ after rename back: %v %v", ids, err)
	}
	mu.Lock()
	hasMB := slices.ContainsFunc(evs, func(e Event) bool { return e.Kind == EventMailbox && e.MailboxID == mb.ID })
	mu.Unlock()
	if !hasMB {
		t.Fatal("no EventMailbox on rename")
	}
	log, _ := s.AuditLog(t.Context(), mb.ID, time.Time{})
	if len(log) != 3 || log[len(log)-1].Action != "rename" {
		t.Fatalf("audit: %+v", log)
	}
}

func TestRemoveSharedAndRestore(t *testing.T) {
	s, _ := newClockStore(t)
	mustUser(t, s, "alice@example.com")
	mustUser(t, s, "bob@example.com")
	mb, _ := s.CreateShared(t.Context(), "info@example.com", "Info", "alice@example.com", "", 0)
	s.Grant(t.Context(), mb.ID, "bob@example.com", acl.Read, 0, "admin")
	deliver(t, s, testMsg, Target{MailboxID: mb.ID})

	item, err := s.RemoveShared(t.Context(), "info@example.com", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(t.Context(), "info@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed still resolves: %v", err)
	}
	if r, _ := s.RightsOf(t.Context(), mb.ID, "bob@example.com"); r != 0 {
		t.Fatalf("rights on a trashed mailbox: %v", r)
	}
	if _, err := s.RemoveShared(t.Context(), "info@example.com", "admin"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
	if _, err := s.RestoreTrash(t.Context(), item.ID); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.RightsOf(t.Context(), mb.ID, "bob@example.com"); r != acl.Read {
		t.Fatalf("restored rights: %v", r)
	}
	if ms := folderMsgs(t, s, mb.ID, "INBOX"); len(ms) != 1 {
		t.Fatalf("restored messages: %d", len(ms))
	}
	if tr, _ := s.Trash(t.Context()); len(tr) != 0 {
		t.Fatalf("trash after restore: %+v", tr)
	}
}

func TestRestoreRefusedWhenAddressTaken(t *testing.T) {
	s, _ := newClockStore(t)
	mustUser(t, s, "bob@example.com")
	item, err := s.RemoveUser(t.Context(), "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	mustUser(t, s, "bob@example.com")
	if _, err := s.RestoreTrash(t.Context(), item.ID); !errors.Is(err, ErrExists) {
		t.Fatalf("restore over a new user: %v", err)
	}
	if _, err := s.RestoreTrash(t.Context(), 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("restore unknown: %v", err)
	}
}

func TestConvertUserToShared(t *testing.T) {
	s, _ := newClockStore(t)
	info := mustUser(t, s, "info@example.com")
	mustUser(t, s, "alice@example.com")
	deliver(t, s, testMsg, Target{MailboxID: info.MailboxID})

	if _, err := s.ConvertUserToShared(t.Context(), "info@example.com", "", "info@example.com", "", 0, "admin"); err == nil {
		t.Fatal("self-owner accepted")
	}
	if _, err := s.ConvertUserToShared(t.Context(), "ghost@example.com", "", "", "", 0, "admin"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	mb, err := s.ConvertUserToShared(t.Context(), "info@example.com", "Info", "alice@example.com", "pwhash", 0, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if mb.ID != info.MailboxID || mb.Kind != MailboxShared || mb.Owner != "alice@example.com" || mb.PasswordHash != "pwhash" {
		t.Fatalf("converted: %+v", mb)
	}
	if _, err := s.User(t.Context(), "info@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("account still there: %v", err)
	}
	if ms := folderMsgs(t, s, mb.ID, "INBOX"); len(ms) != 1 {
		t.Fatalf("mail lost: %d", len(ms))
	}
	if sf, _ := s.SharedFor(t.Context(), "alice@example.com"); len(sf) != 1 {
		t.Fatalf("owner does not see it: %+v", sf)
	}
	if ids, err := s.Resolve(t.Context(), "info@example.com"); err != nil || ids[0] != mb.ID {
		t.Fatalf("Resolve: %v %v", ids, err)
	}
}

func TestConvertRespectsDomainLimit(t *testing.T) {
	s, _ := newClockStore(t)
	mustUser(t, s, "info@example.com")
	if _, err := s.CreateShared(t.Context(), "sales@example.com", "", "", "", 1); err != nil {
		t.Fatal(err)
	}
	_, err := s.ConvertUserToShared(t.Context(), "info@example.com", "", "", "", 1, "admin")
	if err == nil || !strings.Contains(err.Error(), "shared_mailboxes_per_domain") {
		t.Fatalf("limit: %v", err)
	}
}

func TestReassignPersonalRestoreAndPurge(t *testing.T) {
	s, clk := newClockStore(t)
	bob := mustUser(t, s, "bob@example.com")
	carol := mustUser(t, s, "carol@example.com")
	mustUser(t, s, "alice@example.com")
	sh, _ := s.CreateShared(t.Context(), "info@example.com", "", "bob@example.com", "", 0)
	team, _ := s.CreateShared(t.Context(), "team@example.com", "", "alice@example.com", "", 0)
	s.Grant(t.Context(), team.ID, "bob@example.com", acl.Read|acl.Send, 0, "admin")
	deliver(t, s, testMsg, Target{MailboxID: bob.MailboxID})
	deliver(t, s, strings.Replace(testMsg, "hello", "carol's own", 1), Target{MailboxID: carol.MailboxID})
	carolMsgs := folderMsgs(t, s, carol.MailboxID, "INBOX")

	if _, err := s.Reassign(t.Context(), "bob@example.com", "ghost@example.com", "admin"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	res, err := s.ReassignWith(t.Context(), "bob@example.com", "carol@example.com", "admin", ReassignOptions{KeepRights: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Trashed == nil || res.Trashed.Kind != "mailbox" || res.Mailbox.ID != bob.MailboxID {
		t.Fatalf("result: %+v", res)
	}
	c, _ := s.User(t.Context(), "carol@example.com")
	if c.MailboxID != bob.MailboxID || c.PasswordHash != carol.PasswordHash {
		t.Fatalf("carol: %+v", c)
	}
	if _, err := s.User(t.Context(), "bob@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatal("bob's login survives")
	}
	if ids, err := s.Resolve(t.Context(), "bob@example.com"); err != nil || ids[0] != bob.MailboxID {
		t.Fatalf("bob@ no longer delivers: %v %v", ids, err)
	}
	if ms := folderMsgs(t, s, c.MailboxID, "INBOX"); len(ms) != 1 || ms[0].Envelope.Subject != "hello" {
		t.Fatalf("history: %+v", ms)
	}
	if r, _ := s.RightsOf(t.Context(), c.MailboxID, "carol@example.com"); r != acl.All {
		t.Fatalf("carol on her new mailbox: %v", r)
	}
	if m, _ := s.Mailbox(t.Context(), sh.ID); m.Owner != "carol@example.com" {
		t.Fatalf("ownership not passed: %+v", m)
	}
	if r, _ := s.RightsOf(t.Context(), team.ID, "carol@example.com"); r != acl.Read|acl.Send {
		t.Fatalf("membership not passed: %v", r)
	}

	// Restore carol's previous mail into Restored/.
	clk.Add(24 * time.Hour)
	if _, err := s.RestoreTrash(t.Context(), res.Trashed.ID); err != nil {
		t.Fatal(err)
	}
	got := folderMsgs(t, s, c.MailboxID, "Restored/INBOX")
	if len(got) != 1 || got[0].Blob != carolMsgs[0].Blob {
		t.Fatalf("restored: %+v", got)
	}
	if _, err := s.Mailbox(t.Context(), res.Trashed.MailboxID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("emptied mailbox record kept: %v", err)
	}

	// Purge after retention: remove alice, expire, check blobs are gone.
	alice, _ := s.User(t.Context(), "alice@example.com")
	s.Reassign(t.Context(), "team@example.com", "carol@example.com", "admin")
	d := deliver(t, s, "Subject: only alice\r\n\r\nx\r\n", Target{MailboxID: alice.MailboxID})
	ms, _ := s.Messages(t.Context(), d[0].FolderID, []uint32{d[0].UID})
	blobFile := s.blobPath(ms[0].Blob)
	item, err := s.RemoveUser(t.Context(), "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	const retention = 30 * 24 * time.Hour
	clk.Add(retention - time.Minute)
	if p, err := s.PurgeExpired(t.Context(), retention); err != nil || len(p) != 0 {
		t.Fatalf("purged too early: %v %v", p, err)
	}
	clk.Add(2 * time.Minute)
	p, err := s.PurgeExpired(t.Context(), retention)
	if err != nil || len(p) != 1 || p[0].ID != item.ID {
		t.Fatalf("purge: %+v %v", p, err)
	}
	if _, err := os.Stat(blobFile); !os.IsNotExist(err) {
		t.Fatalf("blob survives purge: %v", err)
	}
	if _, err := s.Mailbox(t.Context(), alice.MailboxID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("mailbox survives purge: %v", err)
	}
	if _, err := s.RestoreTrash(t.Context(), item.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("restore after purge: %v", err)
	}
	// The shared body of carol's restored message is still readable.
	rc, err := s.OpenMessage(t.Context(), &got[0])
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
}

func TestReassignSharedChangesOwner(t *testing.T) {
	s, _ := newClockStore(t)
	mustUser(t, s, "alice@example.com")
	mustUser(t, s, "bob@example.com")
	mb, _ := s.CreateShared(t.Context(), "info@example.com", "", "alice@example.com", "", 0)
	s.Grant(t.Context(), mb.ID, "bob@example.com", acl.Read, 0, "admin")
	res, err := s.Reassign(t.Context(), "info@example.com", "bob@example.com", "admin")
	if err != nil || res.Trashed != nil || res.Mailbox.Owner != "bob@example.com" {
		t.Fatalf("%+v %v", res, err)
	}
	if r, _ := s.RightsOf(t.Context(), mb.ID, "bob@example.com"); r != acl.All {
		t.Fatalf("new owner rights %v", r)
	}
	if r, _ := s.RightsOf(t.Context(), mb.ID, "alice@example.com"); r != 0 {
		t.Fatalf("old owner rights %v", r)
	}
	if err := s.Revoke(t.Context(), mb.ID, "bob@example.com", "admin"); err == nil {
		t.Fatal("owner revoked")
	}
}

func TestPurgeKeepsSharedBodies(t *testing.T) {
	s, _ := newClockStore(t)
	a := mustUser(t, s, "alice@example.com")
	b := mustUser(t, s, "bob@example.com")
	d := deliver(t, s, testMsg, Target{MailboxID: a.MailboxID}, Target{MailboxID: b.MailboxID})
	item, _ := s.RemoveUser(t.Context(), "alice@example.com")
	if err := s.PurgeTrash(t.Context(), item.ID); err != nil {
		t.Fatal(err)
	}
	ms, _ := s.Messages(t.Context(), d[1].FolderID, []uint32{d[1].UID})
	rc, err := s.OpenMessage(t.Context(), &ms[0])
	if err != nil {
		t.Fatalf("bob's copy lost its body: %v", err)
	}
	rc.Close()
	if err := s.PurgeTrash(t.Context(), item.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("purge twice: %v", err)
	}
}
