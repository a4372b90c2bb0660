package store

import (
	"errors"
	"slices"
	"testing"
	"time"

	"mailsrv/auth/acl"
	"mailsrv/internal/testkit"
)

// teamFixture: shared info@ owned by alice, bob (read,manage), carol
// (read), dave a user who is no member.
func teamFixture(t *testing.T) (*Store, *Mailbox, *Folder) {
	t.Helper()
	s, _ := newClockStore(t)
	for _, u := range []string{"alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"} {
		mustUser(t, s, u)
	}
	mb, err := s.CreateShared(t.Context(), "info@example.com", "Info", "alice@example.com", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Grant(t.Context(), mb.ID, "bob@example.com", acl.Read|acl.Manage, 0, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := s.Grant(t.Context(), mb.ID, "carol@example.com", acl.Read, 0, "admin"); err != nil {
		t.Fatal(err)
	}
	deliver(t, s, testMsg, Target{MailboxID: mb.ID})
	in, err := s.GetFolder(t.Context(), mb.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return s, mb, in
}

func TestTeamKeywordRules(t *testing.T) {
	s, mb, in := teamFixture(t)
	store := func(op FlagOp, actor string, flags ...string) ([]string, error) {
		res, err := s.StoreFlags(t.Context(), in.ID, []uint32{1}, op, flags, actor)
		return res[1], err
	}
	// A client's spelling is canonicalised.
	got, err := store(FlagsAdd, "bob@example.com", "$assigned:Carol@Example.com")
	if err != nil || !slices.Contains(got, "$Assigned:carol@example.com") {
		t.Fatalf("assign to carol: %v %v", got, err)
	}
	// A second assignee by +FLAGS is refused and changes nothing.
	if _, err := store(FlagsAdd, "bob@example.com", "$Assigned:bob@example.com"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("second assignee: err %v, want ErrInvalid", err)
	}
	// Non-members and non-users cannot be assignees.
	for _, who := range []string{"dave@example.com", "nobody@example.com", "not-an-address"} {
		if _, err := store(FlagsSet, "bob@example.com", "$Assigned:"+who); !errors.Is(err, ErrInvalid) {
			t.Errorf("assign to %s: err %v, want ErrInvalid", who, err)
		}
	}
	// carol (read only) may not assign; the store refuses even if a
	// protocol layer forgot to.
	if _, err := store(FlagsRemove, "carol@example.com", "$Assigned:carol@example.com"); !errors.Is(err, ErrInvalid) {
		t.Errorf("unassign by a read-only member: err %v, want ErrInvalid", err)
	}
	// Replace: remove, then add; then done.
	if _, err := store(FlagsRemove, "bob@example.com", "$Assigned:carol@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := store(FlagsAdd, "bob@example.com", "$Assigned:alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if got, err := store(FlagsAdd, "bob@example.com", "$done"); err != nil || !slices.Contains(got, FlagDone) {
		t.Fatalf("done: %v %v", got, err)
	}
	log, err := s.AuditLog(t.Context(), mb.ID, in.Created.Add(-1))
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, e := range log {
		if e.Action == "assign" || e.Action == "unassign" || e.Action == "done" {
			if e.MessageID != "<m1@remote.example>" || e.Actor != "bob@example.com" {
				t.Errorf("audit entry %+v: want bob and the Message-ID", e)
			}
			acts = append(acts, e.Action+" "+e.Detail)
		}
	}
	want := []string{"assign carol@example.com", "unassign carol@example.com", "assign alice@example.com", "done "}
	if !slices.Equal(acts, want) {
		t.Errorf("audit: %q, want %q", acts, want)
	}

	// The admin operations: by Message-ID, replacing.
	tm, err := s.Assign(t.Context(), mb.ID, "m1@remote.example", "bob@example.com", "admin")
	if err != nil || tm.Assignee() != "bob@example.com" || !tm.Done() {
		t.Fatalf("Assign: %+v %v", tm, err)
	}
	if _, err := s.Assign(t.Context(), mb.ID, "<m1@remote.example>", "dave@example.com", "admin"); !errors.Is(err, ErrInvalid) {
		t.Errorf("Assign to a non-member: %v", err)
	}
	if _, err := s.Assign(t.Context(), mb.ID, "<nope@x>", "bob@example.com", "admin"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Assign of an unknown Message-ID: %v", err)
	}
	if tm, err = s.SetDone(t.Context(), mb.ID, "<m1@remote.example>", false, "admin"); err != nil || tm.Done() {
		t.Fatalf("SetDone undo: %+v %v", tm, err)
	}
	if tm, err = s.Assign(t.Context(), mb.ID, "<m1@remote.example>", "", "admin"); err != nil || tm.Assignee() != "" {
		t.Fatalf("unassign: %+v %v", tm, err)
	}
}

func TestTeamKeywordsOnAppendAndCopy(t *testing.T) {
	s, mb, in := teamFixture(t)
	w, _ := s.NewBlob(t.Context(), 0)
	w.Write([]byte(testMsg))
	w.Sync()
	_, err := s.Deliver(t.Context(), Delivery{Blob: w, Actor: "bob@example.com",
		Targets: []Target{{MailboxID: mb.ID, Flags: []string{"$Assigned:dave@example.com"}}}})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("APPEND with a non-member assignee: %v", err)
	}
	w.Abort()
	// dave's own mailbox may carry any keyword; copying it in is checked.
	dave, _ := s.MailboxByAddress(t.Context(), "dave@example.com")
	d := deliver(t, s, testMsg, Target{MailboxID: dave.ID, Flags: []string{"$Assigned:dave@example.com"}})
	if _, err := s.Copy(t.Context(), d[0].FolderID, []uint32{d[0].UID}, in.ID, "alice@example.com"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("COPY of a non-member assignment into info@: %v", err)
	}
}

func TestReplyInSharedSentMarksAnswered(t *testing.T) {
	s, mb, in := teamFixture(t)
	var seen []Event
	cancel := s.Subscribe(func(ev Event) {
		if ev.Kind == EventFlags {
			seen = append(seen, ev)
		}
	})
	defer cancel()
	reply := "From: info@example.com\r\nTo: bob@remote.example\r\nSubject: Re: hello\r\nMessage-ID: <r1@example.com>\r\n" +
		"References: <other@x> <m1@remote.example>\r\n\r\nthanks\r\n"
	deliver(t, s, reply, Target{MailboxID: mb.ID, Folder: "Sent", Flags: []string{FlagSeen}})
	fl, _ := s.FlagsOf(t.Context(), in.ID, []uint32{1})
	if len(fl) != 1 || !slices.Contains(fl[0].Flags, FlagAnswered) {
		t.Fatalf("original's flags after the reply: %v", fl)
	}
	if len(seen) != 1 || seen[0].FolderID != in.ID || seen[0].UIDs[0] != 1 {
		t.Errorf("flags events: %+v", seen)
	}
	q, err := s.TeamInbox(t.Context(), mb.ID)
	if err != nil || len(q) != 1 || !q[0].Answered() {
		t.Errorf("TeamInbox: %+v %v", q, err)
	}
	// A reply in a personal Sent answers nothing in the shared INBOX.
	alice, _ := s.MailboxByAddress(t.Context(), "alice@example.com")
	deliver(t, s, testMsg, Target{MailboxID: alice.ID})
	deliver(t, s, reply, Target{MailboxID: alice.ID, Folder: "Sent"})
	ai, _ := s.GetFolder(t.Context(), alice.ID, "INBOX")
	if fl, _ := s.FlagsOf(t.Context(), ai.ID, []uint32{1}); slices.Contains(fl[0].Flags, FlagAnswered) {
		t.Error("personal Sent marked a personal INBOX message answered")
	}
}

// One automatic reply per sender per period, kept across a reopen, and
// pruned once the period is over.
func TestClaimAutoReply(t *testing.T) {
	dir := t.TempDir()
	clk := testkit.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	s, err := Open(dir, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	week := 7 * 24 * time.Hour
	if ok, err := s.ClaimAutoReply(t.Context(), 1, "C@Remote.example", week); !ok || err != nil {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if ok, _ := s.ClaimAutoReply(t.Context(), 1, "c@remote.example", week); ok {
		t.Fatal("second claim within the week succeeded")
	}
	if ok, _ := s.ClaimAutoReply(t.Context(), 2, "c@remote.example", week); !ok {
		t.Fatal("another mailbox's claim refused")
	}
	s.Close()
	s, err = Open(dir, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	clk.Add(6 * 24 * time.Hour)
	if ok, _ := s.ClaimAutoReply(t.Context(), 1, "c@remote.example", week); ok {
		t.Fatal("claim after reopen within the week succeeded")
	}
	if n, err := s.PruneAutoReplies(t.Context(), clk.Now().Add(-week)); n != 0 || err != nil {
		t.Fatalf("prune within the week: %d %v", n, err)
	}
	clk.Add(2 * 24 * time.Hour)
	if n, err := s.PruneAutoReplies(t.Context(), clk.Now().Add(-week)); n != 2 || err != nil {
		t.Fatalf("prune after the week: %d %v, want 2", n, err)
	}
	if ok, _ := s.ClaimAutoReply(t.Context(), 1, "c@remote.example", week); !ok {
		t.Fatal("claim after the week refused")
	}
}
