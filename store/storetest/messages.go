package storetest

import (
	"errors"
	"slices"
	"testing"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

func testDeliverReadsBack(t *testing.T, f *fixture) {
	prefix := "Received: from remote.example by test\r\n"
	w := f.blob(msg(1))
	d, err := f.s.Deliver(t.Context(), store.Delivery{Blob: w, Prefix: []byte(prefix),
		Targets: []store.Target{{MailboxID: f.alice.MailboxID}}})
	if err != nil {
		w.Abort()
		t.Fatal(err)
	}
	if len(d) != 1 || d[0].Folder != "INBOX" || d[0].UID == 0 {
		t.Fatalf("delivered %+v, want one copy in INBOX with a UID", d)
	}
	if got, want := f.body(d[0].FolderID, d[0].UID), prefix+msg(1); got != want {
		t.Fatalf("body read back:\n%q\nwant\n%q", got, want)
	}
	ms, err := f.s.Messages(t.Context(), d[0].FolderID, []uint32{d[0].UID})
	f.must(err)
	if env := ms[0].Envelope; env == nil || env.Subject != "message 1" {
		t.Errorf("envelope of the delivered message: %+v", env)
	}
	in := f.folder(f.alice.MailboxID, "INBOX")
	if in.Messages != 1 || in.Unseen != 1 || in.Size != ms[0].Size {
		t.Errorf("INBOX counters: %d messages, %d unseen, %d bytes; want 1, 1, %d", in.Messages, in.Unseen, in.Size, ms[0].Size)
	}
	// A missing target folder falls back to INBOX rather than losing mail.
	d = f.deliver(msg(2), store.Target{MailboxID: f.alice.MailboxID, Folder: "No/Such/Folder"})
	if d[0].Folder != "INBOX" {
		t.Errorf("delivery to a missing folder landed in %q, want INBOX", d[0].Folder)
	}
}

func testDeliverManyTargets(t *testing.T, f *fixture) {
	d := f.deliver(msg(1),
		store.Target{MailboxID: f.alice.MailboxID},
		store.Target{MailboxID: f.bob.MailboxID, Flags: []string{`\Flagged`}},
		store.Target{MailboxID: f.info.ID, Folder: "Sent", Flags: []string{`\Seen`}})
	if len(d) != 3 {
		t.Fatalf("delivered %d copies, want 3", len(d))
	}
	for _, dl := range d {
		if got := f.body(dl.FolderID, dl.UID); got != msg(1) {
			t.Errorf("copy in mailbox %d %s: %q", dl.MailboxID, dl.Folder, got)
		}
	}
	if got := f.flags(d[1].FolderID, d[1].UID); !slices.Equal(got, []string{`\Flagged`}) {
		t.Errorf("bob's copy flags %v", got)
	}
	if sent := f.folder(f.info.ID, "Sent"); sent.Messages != 1 || sent.Unseen != 0 {
		t.Errorf("info Sent: %d messages %d unseen, want 1 and 0", sent.Messages, sent.Unseen)
	}
}

func testDeliverRefused(t *testing.T, f *fixture) {
	w := f.blob(msg(1))
	_, err := f.s.Deliver(t.Context(), store.Delivery{Blob: w, Targets: []store.Target{
		{MailboxID: f.alice.MailboxID}, {MailboxID: 999999}}})
	w.Abort()
	if err == nil {
		t.Fatal("delivery to an unknown mailbox succeeded")
	}
	// All or nothing: alice's copy must not have been kept either.
	if n := len(f.uids(f.folder(f.alice.MailboxID, "INBOX").ID)); n != 0 {
		t.Fatalf("a refused delivery left %d message(s) in alice's INBOX", n)
	}
}

func testUIDsNeverReused(t *testing.T, f *fixture) {
	in := f.folder(f.alice.MailboxID, "INBOX")
	var got []uint32
	for i := range 5 {
		got = append(got, f.deliver(msg(i), store.Target{MailboxID: f.alice.MailboxID})[0].UID)
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("UIDs %v are not strictly increasing", got)
		}
	}
	removed, err := f.s.Expunge(t.Context(), in.ID, got[3:], "")
	f.must(err)
	if !slices.Equal(removed, got[3:]) {
		t.Fatalf("expunged %v, want %v", removed, got[3:])
	}
	next := f.deliver(msg(9), store.Target{MailboxID: f.alice.MailboxID})[0].UID
	if next <= got[4] {
		t.Fatalf("UID %d after expunging up to %d: UIDs must never be reused", next, got[4])
	}
	after := f.folder(f.alice.MailboxID, "INBOX")
	if after.UIDValidity != in.UIDValidity {
		t.Errorf("UIDVALIDITY changed from %d to %d without a reason", in.UIDValidity, after.UIDValidity)
	}
	if after.UIDNext <= next {
		t.Errorf("UIDNEXT %d is not above the last UID %d", after.UIDNext, next)
	}
}

func testFlagsAndUnseen(t *testing.T, f *fixture) {
	var uids []uint32
	for i := range 3 {
		uids = append(uids, f.deliver(msg(i), store.Target{MailboxID: f.alice.MailboxID})[0].UID)
	}
	fid := f.folder(f.alice.MailboxID, "INBOX").ID
	res, err := f.s.StoreFlags(t.Context(), fid, uids[:2], store.FlagsAdd, []string{`\Seen`, "$Label1"}, "")
	f.must(err)
	if len(res) != 2 {
		t.Fatalf("StoreFlags answered for %d messages, want 2", len(res))
	}
	if in := f.folder(f.alice.MailboxID, "INBOX"); in.Unseen != 1 {
		t.Errorf("unseen %d after marking two of three seen, want 1", in.Unseen)
	}
	_, err = f.s.StoreFlags(t.Context(), fid, uids[:1], store.FlagsRemove, []string{`\Seen`}, "")
	f.must(err)
	if got := f.flags(fid, uids[0]); !slices.Equal(got, []string{"$Label1"}) {
		t.Errorf("flags after removing \\Seen: %v", got)
	}
	_, err = f.s.StoreFlags(t.Context(), fid, uids[1:2], store.FlagsSet, []string{`\Answered`}, "")
	f.must(err)
	if got := f.flags(fid, uids[1]); !slices.Equal(got, []string{`\Answered`}) {
		t.Errorf("flags after replacing: %v", got)
	}
	if in := f.folder(f.alice.MailboxID, "INBOX"); in.Unseen != 3 {
		t.Errorf("unseen %d, want 3", in.Unseen)
	}
	// A UID that does not exist is not an error and gets no answer.
	res, err = f.s.StoreFlags(t.Context(), fid, []uint32{9999}, store.FlagsAdd, []string{`\Seen`}, "")
	if err != nil || len(res) != 0 {
		t.Errorf("STORE on a missing UID: %v, %v", res, err)
	}
}

func testExpunge(t *testing.T, f *fixture) {
	fid := f.folder(f.alice.MailboxID, "INBOX").ID
	var uids []uint32
	for i := range 4 {
		uids = append(uids, f.deliver(msg(i), store.Target{MailboxID: f.alice.MailboxID})[0].UID)
	}
	_, err := f.s.StoreFlags(t.Context(), fid, []uint32{uids[0], uids[2]}, store.FlagsAdd, []string{`\Deleted`}, "")
	f.must(err)
	// nil = every message flagged \Deleted.
	removed, err := f.s.Expunge(t.Context(), fid, nil, "")
	f.must(err)
	if !slices.Equal(removed, []uint32{uids[0], uids[2]}) {
		t.Fatalf("expunged %v, want %v", removed, []uint32{uids[0], uids[2]})
	}
	if got := f.uids(fid); !slices.Equal(got, []uint32{uids[1], uids[3]}) {
		t.Fatalf("left %v", got)
	}
	if got := f.body(fid, uids[3]); got != msg(3) {
		t.Errorf("a kept message changed: %q", got)
	}
	if in := f.folder(f.alice.MailboxID, "INBOX"); in.Messages != 2 {
		t.Errorf("message count %d, want 2", in.Messages)
	}
}

func testCopyAndMove(t *testing.T, f *fixture) {
	src := f.folder(f.info.ID, "INBOX")
	arch, err := f.s.CreateFolder(t.Context(), f.info.ID, "Archive2024", "")
	f.must(err)
	var uids []uint32
	for i := range 3 {
		uids = append(uids, f.deliver(msg(i), store.Target{MailboxID: f.info.ID, Flags: []string{`\Flagged`}})[0].UID)
	}
	cp, err := f.s.Copy(t.Context(), src.ID, uids[:1], arch.ID, "alice@example.com")
	f.must(err)
	if !slices.Equal(cp.SrcUIDs, uids[:1]) || len(cp.DestUIDs) != 1 || cp.DestUIDValidity != arch.UIDValidity {
		t.Fatalf("copy result %+v", cp)
	}
	if got := f.flags(arch.ID, cp.DestUIDs[0]); !slices.Equal(got, []string{`\Flagged`}) {
		t.Errorf("copy lost flags: %v", got)
	}
	mv, err := f.s.Move(t.Context(), src.ID, uids[1:], arch.ID, "alice@example.com")
	f.must(err)
	if len(mv.DestUIDs) != 2 {
		t.Fatalf("move result %+v", mv)
	}
	if got := f.uids(src.ID); !slices.Equal(got, uids[:1]) {
		t.Errorf("source after move: %v, want %v", got, uids[:1])
	}
	for i, u := range mv.DestUIDs {
		if got := f.body(arch.ID, u); got != msg(i+1) {
			t.Errorf("moved message %d body %q", u, got)
		}
	}
	// Moves by a member of a shared mailbox are audited.
	log, err := f.s.AuditLog(t.Context(), f.info.ID, f.info.Created.Add(-1))
	f.must(err)
	if len(log) == 0 {
		t.Error("no audit entries after a member's copy and move in a shared mailbox")
	}
}

func testCopySameFolder(t *testing.T, f *fixture) {
	in := f.folder(f.alice.MailboxID, "INBOX")
	u := f.deliver(msg(1), store.Target{MailboxID: f.alice.MailboxID})[0].UID
	cp, err := f.s.Copy(t.Context(), in.ID, []uint32{u}, in.ID, "")
	f.must(err)
	if len(cp.DestUIDs) != 1 || cp.DestUIDs[0] <= u {
		t.Fatalf("copy into the same folder: %+v (want a new, higher UID than %d)", cp, u)
	}
	if got := f.uids(in.ID); len(got) != 2 {
		t.Fatalf("folder has %v after copying into itself", got)
	}
	if got := f.body(in.ID, cp.DestUIDs[0]); got != msg(1) {
		t.Errorf("copy body %q", got)
	}
}

// testDeliverRequirements: a delivery's Requirements are evaluated by the
// store inside its transaction: while bob may send as info@ the message
// goes to info@'s Sent and the queue; once revoked the same delivery is
// refused with ErrMissingRight naming the requirement, and nothing is
// kept, neither the Sent copy nor the queue item.
func testDeliverRequirements(t *testing.T, f *fixture) {
	f.must(f.s.Grant(t.Context(), f.info.ID, f.bob.Address, acl.Read|acl.Send, 0, "admin"))
	req := []store.Requirement{{MailboxID: f.info.ID, User: f.bob.Address, Op: acl.OpSendAs}}
	delivery := func(n int) store.Delivery {
		return store.Delivery{Blob: f.blob(msg(n)), Requires: req,
			Targets: []store.Target{{MailboxID: f.info.ID, Folder: "Sent"}},
			Queue:   &store.QueueItem{From: "info@" + domain, To: []string{"x@remote.example"}}}
	}
	if _, err := f.s.Deliver(t.Context(), delivery(1)); err != nil {
		t.Fatalf("delivery with the right held: %v", err)
	}
	f.must(f.s.Revoke(t.Context(), f.info.ID, f.bob.Address, "admin"))
	d := delivery(2)
	_, err := f.s.Deliver(t.Context(), d)
	d.Blob.Abort()
	var missing *store.MissingRightError
	if !errors.Is(err, store.ErrMissingRight) || !errors.As(err, &missing) || missing.MailboxID != f.info.ID || missing.User != f.bob.Address {
		t.Fatalf("delivery after the revoke: %v, want a MissingRightError for bob on info@", err)
	}
	if n := len(f.uids(f.folder(f.info.ID, "Sent").ID)); n != 1 {
		t.Fatalf("info@'s Sent has %d messages, want only the first", n)
	}
	q, err := f.s.Queue(t.Context())
	f.must(err)
	if len(q) != 1 {
		t.Fatalf("the queue holds %d items, want only the first delivery's", len(q))
	}
}
