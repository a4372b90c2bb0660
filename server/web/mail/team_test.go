package mail_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"mailsrv/auth/acl"
	"mailsrv/server/admin"
	"mailsrv/server/web/mail"
)

func teamUIDs(l mail.TeamList) []uint32 {
	var out []uint32
	for _, m := range l.Messages {
		out = append(out, m.UID)
	}
	return out
}

// The team views and actions over HTTP: assign/unassign/done go through
// the store's team rules (refusals carry their reason), the filters are
// `shared queue`'s, the list shows the assignee, and the assignee's event
// stream hears of an assignment at once.
func TestTeamViewsAssignAndDone(t *testing.T) {
	f := newFixture(t)
	var uids []uint32
	for i, subj := range []string{"Order 1", "Order 2", "Order 3"} {
		uids = append(uids, f.deliver(t, "info@example.com", "INBOX",
			fmt.Sprintf("From: c%d@remote.example\r\nTo: info@example.com\r\nSubject: %s\r\nMessage-ID: <order-%d@remote.example>\r\n\r\nhi\r\n", i, subj, i)))
	}
	alice, bob, carol := f.login(t, "alice"), f.login(t, "bob"), f.login(t, "carol")
	base := "/api/mail/info@example.com/"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bobEvents := bob.events(t, ctx, "")

	// alice assigns Order 1 to bob; bob's stream says so, with the subject.
	if st, b := alice.post(base+"assign", map[string]any{"folder": "INBOX", "uids": []uint32{uids[0]}, "to": "Bob@Example.com"}); st != 200 {
		t.Fatalf("assign to bob: %d %s", st, b)
	}
	for {
		ev := bobEvents.next(t)
		if ev.name != "assigned" {
			continue
		}
		var d mail.Assigned
		json.Unmarshal([]byte(ev.data), &d)
		if d.Account != "info@example.com" || !slices.Equal(d.UIDs, uids[:1]) || len(d.Subjects) != 1 || d.Subjects[0] != "Order 1" || d.By != "alice@example.com" {
			t.Errorf("assigned event = %s", ev.data)
		}
		break
	}
	var l mail.List
	alice.getJSON(base+"messages?folder=INBOX", &l)
	for _, m := range l.Messages {
		if want := map[bool]string{true: "bob@example.com"}[m.UID == uids[0]]; m.Assignee != want {
			t.Errorf("list shows %q assigned to %q, want %q", m.Subject, m.Assignee, want)
		}
	}

	// Refusals: the store's reasons, as IMAP's NO carries them.
	st, b := alice.post(base+"assign", map[string]any{"folder": "INBOX", "uids": []uint32{uids[1]}, "to": "carol@example.com"})
	if st != http.StatusConflict || !strings.Contains(errorOf(b), "not a member") {
		t.Errorf("assign to carol (no rights) = %d %s, want 409 saying she is not a member", st, b)
	}
	st, b = bob.post(base+"assign", map[string]any{"folder": "INBOX", "uids": []uint32{uids[1]}, "to": "bob@example.com"})
	if st != http.StatusForbidden || !strings.Contains(errorOf(b), "manage right") {
		t.Errorf("bob (read only) assigning = %d %s, want 403 naming the manage right", st, b)
	}
	if st, b := bob.post(base+"done", map[string]any{"folder": "INBOX", "uids": []uint32{uids[1]}, "done": true}); st != http.StatusForbidden {
		t.Errorf("bob (read only) done = %d %s", st, b)
	}
	if st, b := carol.get(base + "team?view=mine"); st.StatusCode != http.StatusNotFound {
		t.Errorf("carol's team view = %d %s", st.StatusCode, b)
	}
	if st, b := alice.get("/api/mail/alice@example.com/team?view=mine"); st.StatusCode != http.StatusBadRequest {
		t.Errorf("team view of a personal mailbox = %d %s", st.StatusCode, b)
	}

	// alice takes Order 2 herself, marks Order 3 done; reassigns Order 1
	// to herself (one assignee: bob's keyword goes).
	for _, a := range []struct {
		op   string
		args map[string]any
	}{
		{"assign", map[string]any{"folder": "INBOX", "uids": []uint32{uids[1]}, "to": "alice@example.com"}},
		{"done", map[string]any{"folder": "INBOX", "uids": []uint32{uids[2]}, "done": true}},
	} {
		if st, b := alice.post(base+a.op, a.args); st != 200 {
			t.Fatalf("%s: %d %s", a.op, st, b)
		}
	}
	var mine, unassigned, done, unanswered mail.TeamList
	alice.getJSON(base+"team?view=mine", &mine)
	alice.getJSON(base+"team?view=unassigned", &unassigned)
	alice.getJSON(base+"team?view=done", &done)
	alice.getJSON(base+"team?view=unanswered", &unanswered)
	if !slices.Equal(teamUIDs(mine), uids[1:2]) || mine.Messages[0].Assignee != "alice@example.com" {
		t.Errorf("alice's view = %+v", mine)
	}
	if !slices.Equal(teamUIDs(unassigned), uids[2:3]) || !slices.Equal(teamUIDs(done), uids[2:3]) || !done.Messages[0].Done {
		t.Errorf("unassigned = %v, done = %+v", teamUIDs(unassigned), done)
	}
	// Unanswered: oldest first, with age and assignee, and the same
	// messages as `shared queue --unanswered`.
	info, _ := f.st.MailboxByAddress(ctx, "info@example.com")
	msgs, err := f.st.TeamInbox(ctx, info.ID)
	if err != nil {
		t.Fatal(err)
	}
	var queue []uint32
	for _, e := range admin.QueueEntries(msgs, time.Now(), false, true, "") {
		queue = append(queue, e.UID)
	}
	if !slices.Equal(teamUIDs(unanswered), uids[:2]) || !slices.Equal(teamUIDs(unanswered), queue) {
		t.Errorf("unanswered = %v, shared queue --unanswered = %v", teamUIDs(unanswered), queue)
	}
	if u := unanswered.Messages; u[0].Assignee != "bob@example.com" || u[0].AgeSeconds < 0 || u[0].MessageID != "<order-0@remote.example>" {
		t.Errorf("unanswered entry = %+v", u[0])
	}

	// Unassign and reopen; both are audited, as from IMAP.
	if st, b := alice.post(base+"assign", map[string]any{"folder": "INBOX", "uids": []uint32{uids[0]}, "to": ""}); st != 200 {
		t.Fatalf("unassign: %d %s", st, b)
	}
	if st, b := alice.post(base+"done", map[string]any{"folder": "INBOX", "uids": []uint32{uids[2]}, "done": false}); st != 200 {
		t.Fatalf("undone: %d %s", st, b)
	}
	alice.getJSON(base+"team?view=unassigned", &unassigned)
	if !slices.Equal(teamUIDs(unassigned), []uint32{uids[0], uids[2]}) {
		t.Errorf("unassigned after unassign = %v", teamUIDs(unassigned))
	}
	log, err := f.st.AuditLog(ctx, info.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range log {
		if e.Actor == "alice@example.com" && slices.Contains([]string{"assign", "unassign", "done", "undone"}, e.Action) {
			actions = append(actions, e.Action+" "+e.Detail)
		}
	}
	want := []string{"assign bob@example.com", "assign alice@example.com", "done ", "unassign bob@example.com", "undone "}
	if !slices.Equal(actions, want) {
		t.Errorf("audited team actions = %q, want %q", actions, want)
	}
	var members []mail.Member
	bob.getJSON(base+"members", &members)
	if len(members) != 2 || members[0].Address != "alice@example.com" || members[1].Name != "Bob" {
		t.Errorf("members = %+v", members)
	}
}

// replyingEvent waits for the next "replying" event of s.
func replyingEvent(t *testing.T, s *sse) []mail.ReplyingInfo {
	t.Helper()
	for {
		ev := s.next(t)
		if ev.name != "replying" {
			continue
		}
		var d struct {
			Account  string
			Replying []mail.ReplyingInfo
		}
		if err := json.Unmarshal([]byte(ev.data), &d); err != nil || d.Account != "info@example.com" {
			t.Fatalf("replying event %s: %v", ev.data, err)
		}
		return d.Replying
	}
}

// "Who is replying" over the event streams, and the stale-reply warning:
// alice opens a reply, bob sees it live; bob replies first; alice's send
// is held with bob's reply shown (409, nothing sent) until she confirms.
func TestReplyingPresenceAndStaleReply(t *testing.T) {
	f := newFixture(t)
	info, _ := f.st.MailboxByAddress(t.Context(), "info@example.com")
	if err := f.st.Grant(t.Context(), info.ID, "bob@example.com", acl.Read|acl.Send, 0, "test"); err != nil {
		t.Fatal(err)
	}
	uid := f.deliver(t, "info@example.com", "INBOX", "From: Carol <carol@example.com>\r\nTo: info@example.com\r\nSubject: Refund?\r\nMessage-ID: <refund-1@example.com>\r\n\r\nWhere is my refund?\r\n")
	alice, bob := f.login(t, "alice"), f.login(t, "bob")
	base := "/api/mail/info@example.com/"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bobEvents, aliceEvents := bob.events(t, ctx, ""), alice.events(t, ctx, "")

	start := time.Now()
	var opened struct{ Since string }
	st, b := alice.post(base+"replying", map[string]any{"folder": "INBOX", "uid": uid, "active": true})
	if st != 200 || json.Unmarshal(b, &opened) != nil || opened.Since == "" {
		t.Fatalf("replying: %d %s", st, b)
	}
	got := replyingEvent(t, bobEvents)
	t.Logf("bob heard that alice is replying after %v", time.Since(start))
	if len(got) != 1 || got[0].Member != "alice@example.com" || got[0].Name != "Alice" || got[0].UID != uid || got[0].Folder != "INBOX" {
		t.Fatalf("bob sees %+v", got)
	}
	// bob opens a reply too and sends it first (nobody answered before him).
	var bobOpened struct{ Since string }
	_, b = bob.post(base+"replying", map[string]any{"folder": "INBOX", "uid": uid, "active": true})
	json.Unmarshal(b, &bobOpened)
	if got := replyingEvent(t, aliceEvents); len(got) != 1 || got[0].Member != "bob@example.com" {
		t.Fatalf("alice sees %+v (never herself)", got)
	}
	reply := map[string]string{"from": "info@example.com", "to": "carol@example.com", "subject": "Re: Refund?",
		"text": "Bob here: the refund left today.", "in_reply_to": "<refund-1@example.com>",
		"reply_folder": "INBOX", "reply_uid": fmt.Sprint(uid), "reply_answered": "0"}
	reply["reply_since"] = bobOpened.Since
	if st, b := bob.send("info@example.com", reply, nil); st != 200 {
		t.Fatalf("bob's reply: %d %s", st, b)
	}
	// bob's send ended his presence: alice's stream drops him.
	if got := replyingEvent(t, aliceEvents); len(got) != 0 {
		t.Errorf("after bob sent, alice still sees %+v", got)
	}

	// alice's reply, opened before bob's went out: held, bob's reply shown.
	reply["text"], reply["reply_since"] = "Alice here: refund is on its way.", opened.Since
	st, b = alice.send("info@example.com", reply, nil)
	var stale struct {
		Error string
		Stale []mail.Reply
	}
	json.Unmarshal(b, &stale)
	if st != http.StatusConflict || len(stale.Stale) != 1 || !strings.Contains(stale.Stale[0].Text, "the refund left today") ||
		stale.Stale[0].By != "bob@example.com" || !strings.HasPrefix(stale.Error, "Bob answered") {
		t.Fatalf("alice's stale reply: %d %s", st, b)
	}
	if l := f.list(t, f.login(t, "carol"), "carol@example.com", "INBOX"); l.Total != 1 {
		t.Fatalf("carol got %d replies, want only bob's", l.Total)
	}
	// A reply opened after bob's is not stale; a confirmed one goes out.
	_, b = alice.post(base+"replying", map[string]any{"folder": "INBOX", "uid": uid, "active": true})
	var again struct{ Since string }
	json.Unmarshal(b, &again)
	reply["reply_since"], reply["reply_answered"] = again.Since, "1"
	reply["confirm_stale"] = ""
	if st, b := alice.send("info@example.com", reply, nil); st != 200 {
		t.Fatalf("reply opened after bob's: %d %s", st, b)
	}
	reply["reply_since"], reply["reply_answered"], reply["confirm_stale"] = opened.Since, "0", "1"
	if st, b := alice.send("info@example.com", reply, nil); st != 200 {
		t.Fatalf("confirmed stale reply: %d %s", st, b)
	}
	if l := f.list(t, f.login(t, "carol"), "carol@example.com", "INBOX"); l.Total != 3 {
		t.Errorf("carol has %d replies, want 3", l.Total)
	}
	// Leaving without sending: the presence ends (here: explicitly; a
	// closed tab stops its heartbeat and the presence expires).
	bob.post(base+"replying", map[string]any{"folder": "INBOX", "uid": uid, "active": true})
	if got := replyingEvent(t, aliceEvents); len(got) != 1 {
		t.Fatalf("alice sees %+v", got)
	}
	bob.post(base+"replying", map[string]any{"folder": "INBOX", "uid": uid, "active": false})
	if got := replyingEvent(t, aliceEvents); len(got) != 0 {
		t.Errorf("after bob left, alice sees %+v", got)
	}
}

// An assignee who chose it in the webmail settings gets a short mail from
// the shared address; one who did not, or who assigned themselves, not.
func TestAssignmentMailWhenChosen(t *testing.T) {
	f := newFixture(t)
	info, _ := f.st.MailboxByAddress(t.Context(), "info@example.com")
	if err := f.st.Grant(t.Context(), info.ID, "bob@example.com", acl.Read|acl.Manage, 0, "test"); err != nil {
		t.Fatal(err)
	}
	u1 := f.deliver(t, "info@example.com", "INBOX", "From: c@remote.example\r\nSubject: Broken login\r\nMessage-ID: <login-1@remote.example>\r\n\r\nhelp\r\n")
	u2 := f.deliver(t, "info@example.com", "INBOX", "From: c@remote.example\r\nSubject: Second\r\nMessage-ID: <login-2@remote.example>\r\n\r\nhelp\r\n")
	alice, bob := f.login(t, "alice"), f.login(t, "bob")
	var s mail.Settings
	bob.getJSON("/api/mail/settings", &s)
	if s.AssignMail {
		t.Fatal("assignment mail is on by default")
	}
	for _, c := range []*client{alice, bob} {
		if st, b := c.post("/api/mail/settings", map[string]bool{"assign_mail": true}); st != 200 || !strings.Contains(string(b), `"assign_mail":true`) {
			t.Fatalf("settings: %d %s", st, b)
		}
	}
	base := "/api/mail/info@example.com/"
	if st, b := alice.post(base+"assign", map[string]any{"folder": "INBOX", "uids": []uint32{u1}, "to": "bob@example.com"}); st != 200 {
		t.Fatalf("assign: %d %s", st, b)
	}
	// alice takes u2 herself: no mail to her.
	if st, b := alice.post(base+"assign", map[string]any{"folder": "INBOX", "uids": []uint32{u2}, "to": "alice@example.com"}); st != 200 {
		t.Fatalf("assign to self: %d %s", st, b)
	}
	var l mail.List
	deadline := time.Now().Add(20 * time.Second)
	for {
		l = f.list(t, bob, "bob@example.com", "INBOX")
		if l.Total > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if l.Total != 1 || l.Messages[0].Subject != "Assigned to you: Broken login" || !strings.Contains(l.Messages[0].From, "info@example.com") {
		t.Fatalf("bob's INBOX = %+v", l)
	}
	var v mail.View
	bob.getJSON(fmt.Sprintf("/api/mail/bob@example.com/message?folder=INBOX&uid=%d", l.Messages[0].UID), &v)
	if !strings.Contains(v.Text, "alice@example.com assigned you a message in info@example.com/INBOX") || !strings.Contains(v.Text, "<login-1@remote.example>") {
		t.Errorf("notice text:\n%s", v.Text)
	}
	// bob turns it off; the next assignment (from the CLI's store call) mails nobody.
	bob.post("/api/mail/settings", map[string]bool{"assign_mail": false})
	if _, err := f.st.Assign(t.Context(), info.ID, "<login-2@remote.example>", "bob@example.com", "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if l := f.list(t, bob, "bob@example.com", "INBOX"); l.Total != 1 {
		t.Errorf("bob got %d mails, want still 1 (turned off)", l.Total)
	}
	if l := f.list(t, alice, "alice@example.com", "INBOX"); l.Total != 0 {
		t.Errorf("alice was mailed about her own assignment: %+v", l)
	}
}

// Per-member \Seen in the webmail: alice reading a message changes her
// unread counts and list only; bob's stay, and his stream is not told.
func TestPerMemberSeenInWebmail(t *testing.T) {
	f := newFixture(t)
	info, _ := f.st.MailboxByAddress(t.Context(), "info@example.com")
	if _, err := f.st.SetSeenMode(t.Context(), info.ID, true, "test"); err != nil {
		t.Fatal(err)
	}
	u1 := f.deliver(t, "info@example.com", "INBOX", msg("x@remote.example", "info@example.com", "One", "1"))
	f.deliver(t, "info@example.com", "INBOX", msg("x@remote.example", "info@example.com", "Two", "2"))
	alice, bob := f.login(t, "alice"), f.login(t, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bobEvents := bob.events(t, ctx, "")
	var v mail.View
	alice.getJSON(fmt.Sprintf("/api/mail/info@example.com/message?folder=INBOX&uid=%d", u1), &v)
	unread := func(c *client) uint32 {
		var accts []mail.Account
		c.getJSON("/api/mail/accounts", &accts)
		for _, a := range accts {
			if a.Address == "info@example.com" {
				return a.Unread
			}
		}
		return 99
	}
	if a, b := unread(alice), unread(bob); a != 1 || b != 2 {
		t.Errorf("unread: alice %d, bob %d; want 1 and 2", a, b)
	}
	seen := func(c *client) map[string]bool {
		out := map[string]bool{}
		for _, m := range f.list(t, c, "info@example.com", "INBOX").Messages {
			out[m.Subject] = m.Seen
		}
		return out
	}
	if s := seen(alice); !s["One"] || s["Two"] {
		t.Errorf("alice's list: %v", s)
	}
	if s := seen(bob); s["One"] || s["Two"] {
		t.Errorf("bob's list: %v", s)
	}
	// The next event bob gets is a shared change, not alice's \Seen.
	if st, b := alice.post("/api/mail/info@example.com/flags", map[string]any{"folder": "INBOX", "uids": []uint32{u1}, "add": []string{`\Flagged`}}); st != 200 {
		t.Fatalf("flag: %d %s", st, b)
	}
	f.deliver(t, "info@example.com", "INBOX", msg("x@remote.example", "info@example.com", "Three", "3"))
	if e1, e2 := bobEvents.next(t), bobEvents.next(t); e1.name != "flags" || e2.name != "new" {
		t.Errorf("bob's events = %+v, %+v; want only the shared flags change, then the new message", e1, e2)
	}
	if s := seen(bob); s["One"] {
		t.Errorf("bob's list after the shared flag: %v", s)
	}
}
