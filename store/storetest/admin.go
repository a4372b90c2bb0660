package storetest

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

func folderNames(t *testing.T, f *fixture, mbid uint64) []string {
	t.Helper()
	fs, err := f.s.Folders(t.Context(), mbid)
	f.must(err)
	var names []string
	for _, fo := range fs {
		names = append(names, fo.Name)
	}
	return names
}

func testFolders(t *testing.T, f *fixture) {
	names := folderNames(t, f, f.alice.MailboxID)
	if len(names) == 0 || names[0] != "INBOX" {
		t.Fatalf("folders %v: INBOX must come first", names)
	}
	// SPEC §6: personal mailboxes have these special-use folders.
	fs, err := f.s.Folders(t.Context(), f.alice.MailboxID)
	f.must(err)
	use := map[string]string{}
	for _, fo := range fs {
		use[fo.Name] = fo.SpecialUse
	}
	for name, su := range map[string]string{"Sent": `\Sent`, "Drafts": `\Drafts`, "Trash": `\Trash`, "Junk": `\Junk`, "Archive": `\Archive`} {
		if use[name] != su {
			t.Errorf("folder %s: special use %q, want %q (folders %v)", name, use[name], su, names)
		}
	}
	if fo := f.folder(f.alice.MailboxID, "inbox"); fo.Name != "INBOX" {
		t.Errorf(`GetFolder("inbox") = %q, want INBOX in any case`, fo.Name)
	}
	_, err = f.s.CreateFolder(t.Context(), f.alice.MailboxID, "Projects", "")
	f.must(err)
	if _, err := f.s.CreateFolder(t.Context(), f.alice.MailboxID, "Projects", ""); !errors.Is(err, store.ErrExists) {
		t.Errorf("second CreateFolder: %v, want ErrExists", err)
	}
	u := f.deliver(msg(1), store.Target{MailboxID: f.alice.MailboxID, Folder: "Projects"})[0]
	if u.Folder != "Projects" {
		t.Fatalf("delivery into Projects landed in %q", u.Folder)
	}
	f.must(f.s.RenameFolder(t.Context(), f.alice.MailboxID, "Projects", "Done"))
	renamed := f.folder(f.alice.MailboxID, "Done")
	if got := f.body(renamed.ID, u.UID); got != msg(1) {
		t.Errorf("message after folder rename: %q", got)
	}
	if _, err := f.s.GetFolder(t.Context(), f.alice.MailboxID, "Projects"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old name after rename: %v, want ErrNotFound", err)
	}
	if err := f.s.DeleteFolder(t.Context(), f.alice.MailboxID, "INBOX"); err == nil {
		t.Error("INBOX could be deleted")
	}
	f.must(f.s.DeleteFolder(t.Context(), f.alice.MailboxID, "Done"))
	if slices.Contains(folderNames(t, f, f.alice.MailboxID), "Done") {
		t.Error("deleted folder still listed")
	}
	// A folder created again after deletion must not reuse UIDs under the
	// same UIDVALIDITY.
	again, err := f.s.CreateFolder(t.Context(), f.alice.MailboxID, "Done", "")
	f.must(err)
	if again.UIDValidity == renamed.UIDValidity && again.UIDNext <= u.UID {
		t.Errorf("recreated folder: UIDVALIDITY %d UIDNEXT %d would reuse UID %d", again.UIDValidity, again.UIDNext, u.UID)
	}
}

func testAliases(t *testing.T, f *fixture) {
	f.must(f.s.AddAlias(t.Context(), "sales@"+domain, f.bob.Address))
	ids, err := f.s.Resolve(t.Context(), "SALES@Example.com")
	f.must(err)
	if !slices.Equal(ids, []uint64{f.bob.MailboxID}) {
		t.Fatalf("alias resolves to %v, want bob's mailbox %d", ids, f.bob.MailboxID)
	}
	if err := f.s.AddAlias(t.Context(), "alice@"+domain, f.bob.Address); !errors.Is(err, store.ErrExists) {
		t.Errorf("alias over a user: %v, want ErrExists", err)
	}
	if _, err := f.s.Resolve(t.Context(), "nobody@"+domain); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown local address: %v, want ErrNotFound", err)
	}
	if _, err := f.s.Resolve(t.Context(), "x@elsewhere.example"); !errors.Is(err, store.ErrUnknownDomain) {
		t.Errorf("foreign address: %v, want ErrUnknownDomain", err)
	}
	f.must(f.s.RemoveAlias(t.Context(), "sales@"+domain))
	if _, err := f.s.Resolve(t.Context(), "sales@"+domain); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removed alias still resolves: %v", err)
	}
}

func testRights(t *testing.T, f *fixture) {
	if r, err := f.s.RightsOf(t.Context(), f.info.ID, f.alice.Address); err != nil || !r.Has(acl.Read|acl.Manage|acl.Send) {
		t.Fatalf("owner's rights %v, %v: the owner has every right", r, err)
	}
	if r, _ := f.s.RightsOf(t.Context(), f.info.ID, f.bob.Address); r != 0 {
		t.Fatalf("non-member has rights %v", r)
	}
	f.must(f.s.Grant(t.Context(), f.info.ID, f.bob.Address, acl.Read, 0, "admin"))
	if r, _ := f.s.RightsOf(t.Context(), f.info.ID, f.bob.Address); !r.Has(acl.Read) || r.Has(acl.Manage) {
		t.Fatalf("after grant read: %v", r)
	}
	sh, err := f.s.SharedFor(t.Context(), f.bob.Address)
	f.must(err)
	if len(sh) != 1 || sh[0].Mailbox.ID != f.info.ID {
		t.Fatalf("SharedFor(bob) = %+v", sh)
	}
	f.must(f.s.Grant(t.Context(), f.info.ID, f.bob.Address, acl.Read|acl.Manage, 0, "admin"))
	entries, err := f.s.ACL(t.Context(), f.info.ID)
	f.must(err)
	if len(entries) != 1 || entries[0].Member != f.bob.Address || !entries[0].Rights.Has(acl.Manage) {
		t.Fatalf("ACL %+v", entries)
	}
	if err := f.s.Revoke(t.Context(), f.info.ID, f.alice.Address, "admin"); err == nil {
		t.Error("the owner was revoked")
	}
	if err := f.s.Grant(t.Context(), f.info.ID, "nobody@"+domain, acl.Read, 0, "admin"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("grant to an unknown user: %v, want ErrNotFound", err)
	}
	f.must(f.s.Revoke(t.Context(), f.info.ID, f.bob.Address, "admin"))
	if r, _ := f.s.RightsOf(t.Context(), f.info.ID, f.bob.Address); r != 0 {
		t.Fatalf("after revoke: %v", r)
	}
	log, err := f.s.AuditLog(t.Context(), f.info.ID, time.Time{})
	f.must(err)
	var actions []string
	for _, e := range log {
		actions = append(actions, e.Action)
	}
	if strings.Count(strings.Join(actions, " "), "grant") < 2 || !slices.Contains(actions, "revoke") {
		t.Errorf("audit actions %v: want two grants and a revoke", actions)
	}
}

func testMemberLimit(t *testing.T, f *fixture) {
	carol, err := f.s.AddUser(t.Context(), "carol@"+domain, "", "h")
	f.must(err)
	f.must(f.s.Grant(t.Context(), f.info.ID, f.bob.Address, acl.Read, 1, "admin"))
	if err := f.s.Grant(t.Context(), f.info.ID, carol.Address, acl.Read, 1, "admin"); err == nil {
		t.Fatal("a second member was granted past a limit of 1")
	} else if !strings.Contains(err.Error(), "shared_mailbox_members") {
		t.Errorf("limit error %q does not name the config key", err)
	}
	// Changing an existing member's rights is not a new member.
	f.must(f.s.Grant(t.Context(), f.info.ID, f.bob.Address, acl.Read|acl.Manage, 1, "admin"))
}

func testRecycleBin(t *testing.T, f *fixture) {
	u := f.deliver(msg(1), store.Target{MailboxID: f.info.ID})[0]
	f.must(f.s.Grant(t.Context(), f.info.ID, f.bob.Address, acl.Read, 0, "admin"))
	item, err := f.s.RemoveShared(t.Context(), f.info.Address, "admin")
	f.must(err)
	if _, err := f.s.MailboxByAddress(t.Context(), f.info.Address); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("removed shared mailbox still live: %v", err)
	}
	if sh, _ := f.s.SharedFor(t.Context(), f.bob.Address); len(sh) != 0 {
		t.Errorf("bob still sees a removed shared mailbox: %+v", sh)
	}
	items, err := f.s.Trash(t.Context())
	f.must(err)
	if !slices.ContainsFunc(items, func(i store.TrashItem) bool { return i.ID == item.ID }) {
		t.Fatalf("trash %+v lacks item %d", items, item.ID)
	}
	_, err = f.s.RestoreTrash(t.Context(), item.ID)
	f.must(err)
	mb, err := f.s.MailboxByAddress(t.Context(), f.info.Address)
	f.must(err)
	if r, _ := f.s.RightsOf(t.Context(), mb.ID, f.bob.Address); !r.Has(acl.Read) {
		t.Errorf("bob's rights not restored with the mailbox: %v", r)
	}
	in := f.folder(mb.ID, "INBOX")
	if got := f.body(in.ID, u.UID); got != msg(1) {
		t.Errorf("restored mail %q", got)
	}
	// A removed user can be purged for good.
	ti, err := f.s.RemoveUser(t.Context(), f.bob.Address)
	f.must(err)
	f.must(f.s.PurgeTrash(t.Context(), ti.ID))
	if _, err := f.s.RestoreTrash(t.Context(), ti.ID); err == nil {
		t.Error("a purged item could be restored")
	}
	if _, err := f.s.User(t.Context(), f.bob.Address); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("purged user: %v", err)
	}
}

func testQueue(t *testing.T, f *fixture) {
	w := f.blob(msg(1))
	q := &store.QueueItem{From: f.alice.Address, To: []string{"x@remote.example", "y@remote.example"}}
	_, err := f.s.Deliver(t.Context(), store.Delivery{Blob: w, Queue: q,
		Targets: []store.Target{{MailboxID: f.alice.MailboxID, Folder: "Sent"}}})
	if err != nil {
		w.Abort()
		t.Fatal(err)
	}
	items, err := f.s.Queue(t.Context())
	f.must(err)
	if len(items) != 1 || !slices.Equal(items[0].To, q.To) || items[0].Size == 0 {
		t.Fatalf("queue %+v", items)
	}
	it, err := f.s.QueueGet(t.Context(), items[0].ID)
	f.must(err)
	it.To, it.Attempts, it.LastError = it.To[1:], 1, "451 try later"
	f.must(f.s.QueueUpdate(t.Context(), it))
	it2, err := f.s.QueueGet(t.Context(), it.ID)
	f.must(err)
	if len(it2.To) != 1 || it2.Attempts != 1 || it2.LastError != "451 try later" {
		t.Errorf("queue item after update %+v", it2)
	}
	f.must(f.s.QueueRemove(t.Context(), it.ID))
	if items, _ := f.s.Queue(t.Context()); len(items) != 0 {
		t.Errorf("queue after remove %+v", items)
	}
	// The Sent copy shares the body and must outlive the queue entry.
	sent := f.folder(f.alice.MailboxID, "Sent")
	if got := f.body(sent.ID, f.uids(sent.ID)[0]); got != msg(1) {
		t.Errorf("Sent copy after the queue entry was removed: %q", got)
	}
}

func testEventsOrder(t *testing.T, f *fixture) {
	var rec recorder
	cancel := f.s.Subscribe(rec.add)
	defer cancel()
	in := f.folder(f.info.ID, "INBOX")
	u1 := f.deliver(msg(1), store.Target{MailboxID: f.info.ID})[0].UID
	u2 := f.deliver(msg(2), store.Target{MailboxID: f.info.ID})[0].UID
	_, err := f.s.StoreFlags(t.Context(), in.ID, []uint32{u1}, store.FlagsAdd, []string{`\Seen`}, "")
	f.must(err)
	_, err = f.s.Expunge(t.Context(), in.ID, []uint32{u2}, "")
	f.must(err)
	f.must(f.s.Grant(t.Context(), f.info.ID, f.bob.Address, acl.Read, 0, "admin"))

	evs := rec.wait(t, 5)
	type want struct {
		kind store.EventKind
		uids []uint32
	}
	wants := []want{{store.EventNew, []uint32{u1}}, {store.EventNew, []uint32{u2}},
		{store.EventFlags, []uint32{u1}}, {store.EventExpunge, []uint32{u2}}, {store.EventACL, nil}}
	// Other kinds of events (the store may publish more) are allowed in
	// between; the five must come in commit order.
	i := 0
	for _, ev := range evs {
		if i < len(wants) && ev.Kind == wants[i].kind && (wants[i].uids == nil || slices.Equal(ev.UIDs, wants[i].uids)) {
			if ev.Kind != store.EventACL && ev.FolderID != in.ID {
				t.Errorf("event %d: folder %d, want %d", i, ev.FolderID, in.ID)
			}
			if ev.Kind == store.EventACL && (ev.MailboxID != f.info.ID || ev.Member != f.bob.Address) {
				t.Errorf("ACL event %+v", ev)
			}
			if ev.Kind == store.EventFlags && (len(ev.Flags) != 1 || !slices.Contains(ev.Flags[0], `\Seen`)) {
				t.Errorf("flags event carries %v", ev.Flags)
			}
			i++
		}
	}
	if i != len(wants) {
		t.Fatalf("events %+v: matched only %d of %d in order", evs, i, len(wants))
	}
	// After cancel no more events arrive.
	cancel()
	n := len(rec.wait(t, 0))
	f.deliver(msg(3), store.Target{MailboxID: f.info.ID})
	time.Sleep(50 * time.Millisecond)
	if got := len(rec.wait(t, 0)); got != n {
		t.Errorf("%d events after cancel", got-n)
	}
}

// testEventsModSeq: message events carry their folder's sequence (the
// RFC 7162 HIGHESTMODSEQ after the change), one more for each event of
// the folder, so a subscriber that sees a jump knows it missed one; the
// folder's HighestModSeq is the last event's.
func testEventsModSeq(t *testing.T, f *fixture) {
	var rec recorder
	cancel := f.s.Subscribe(rec.add)
	defer cancel()
	in := f.folder(f.info.ID, "INBOX")
	sent := f.folder(f.info.ID, "Sent")
	u1 := f.deliver(msg(1), store.Target{MailboxID: f.info.ID})[0].UID
	u2 := f.deliver(msg(2), store.Target{MailboxID: f.info.ID})[0].UID
	f.deliver(msg(3), store.Target{MailboxID: f.info.ID, Folder: "Sent"})
	_, err := f.s.StoreFlags(t.Context(), in.ID, []uint32{u1, u2}, store.FlagsAdd, []string{`\Flagged`}, "")
	f.must(err)
	_, err = f.s.Move(t.Context(), in.ID, []uint32{u2}, sent.ID, "")
	f.must(err)
	_, err = f.s.Expunge(t.Context(), in.ID, []uint32{u1}, "")
	f.must(err)
	evs := rec.wait(t, 7)
	last := map[uint64]uint64{in.ID: in.HighestModSeq, sent.ID: sent.HighestModSeq}
	n := 0
	for _, ev := range evs {
		switch ev.Kind {
		case store.EventNew, store.EventFlags, store.EventExpunge:
		default:
			continue
		}
		n++
		if prev, ok := last[ev.FolderID]; ok && ev.ModSeq != prev+1 {
			t.Errorf("event %+v: modseq %d after %d", ev, ev.ModSeq, prev)
		}
		last[ev.FolderID] = ev.ModSeq
	}
	if n != 7 {
		t.Fatalf("%d message events, want 7: %+v", n, evs)
	}
	for _, fo := range []*store.Folder{in, sent} {
		if got := f.folder(f.info.ID, fo.Name).HighestModSeq; got != last[fo.ID] {
			t.Errorf("%s: HighestModSeq %d, last event %d", fo.Name, got, last[fo.ID])
		}
	}
}

func testSnapshot(t *testing.T, f *fixture) {
	// Bodies above 64 KiB: files in the archive on every backend (small
	// ones may travel inside the database file, store/blob_inline.go,
	// which TestInlineSnapshotRestore covers).
	for i := range 3 {
		f.deliver(msg(i)+strings.Repeat("a long body line\r\n", 4000), store.Target{MailboxID: f.alice.MailboxID})
	}
	var buf bytes.Buffer
	st, err := f.s.Snapshot(t.Context(), &buf)
	if errors.Is(err, store.ErrNoFileSnapshot) {
		t.Skip("this engine has no file snapshot (PostgreSQL: pg_dump): ", err)
	}
	f.must(err)
	if st.Blobs < 3 || st.Bytes <= 0 {
		t.Errorf("snapshot stats %+v, want at least 3 bodies", st)
	}
	tr := tar.NewReader(&buf)
	files := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		f.must(err)
		if h.Typeflag == tar.TypeReg {
			files++
		}
	}
	if files < 4 {
		t.Errorf("snapshot holds %d files, want the database and 3 bodies", files)
	}
}
