package autoreply

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

func deliver(t *testing.T, st *store.Store, mbid uint64, folder, msg string, flags ...string) {
	t.Helper()
	deliverAt(t, st, time.Time{}, mbid, folder, msg, flags...)
}

func deliverAt(t *testing.T, st *store.Store, at time.Time, mbid uint64, folder, msg string, flags ...string) {
	t.Helper()
	w, err := st.NewBlob(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, msg)
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Deliver(t.Context(), store.Delivery{Blob: w, InternalDate: at, Targets: []store.Target{{MailboxID: mbid, Folder: folder, Flags: flags}}}); err != nil {
		t.Fatal(err)
	}
}

// inbox returns the text of every message in addr's INBOX.
func inbox(t *testing.T, st *store.Store, addr string) []string {
	t.Helper()
	mb, err := st.MailboxByAddress(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := st.GetFolder(t.Context(), mb.ID, "INBOX")
	uids, _ := st.FolderUIDs(t.Context(), f.ID)
	ms, _ := st.Messages(t.Context(), f.ID, uids)
	var out []string
	for i := range ms {
		r, err := st.OpenMessage(t.Context(), &ms[i])
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		out = append(out, string(b))
	}
	return out
}

// The --remind-after digest: what waited longer than the threshold
// without answer or $Done goes to its assignee, or to every member when
// unassigned; one digest per day, with the time passed in (the job's
// injectable clock).
func TestReminderDigest(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.AddDomain(t.Context(), store.Domain{Name: "example.com"})
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		if _, err := st.AddUser(t.Context(), u+"@example.com", "", "x"); err != nil {
			t.Fatal(err)
		}
	}
	info, err := st.CreateShared(t.Context(), "info@example.com", "Info", "alice@example.com", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	st.Grant(t.Context(), info.ID, "bob@example.com", acl.Read|acl.Manage, 0, "admin")
	st.Grant(t.Context(), info.ID, "carol@example.com", acl.Read, 0, "admin")
	msg := func(id, subject string) string {
		return "From: c@remote.example\r\nTo: info@example.com\r\nSubject: " + subject + "\r\nMessage-ID: <" + id + ">\r\n\r\nhi\r\n"
	}
	deliver(t, st, info.ID, "INBOX", msg("open@x", "open question"))
	deliver(t, st, info.ID, "INBOX", msg("bobs@x", "for bob"), "$Assigned:bob@example.com")
	deliver(t, st, info.ID, "INBOX", msg("done@x", "finished"), store.FlagDone)
	deliver(t, st, info.ID, "INBOX", msg("answered@x", "answered"), store.FlagAnswered)
	r := &Responder{Store: st, Hostname: "mail.example.com", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	start := st.Now()

	// Without --remind-after nothing is sent.
	if err := r.Digests(context.Background(), start.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := len(inbox(t, st, "alice@example.com")); n != 0 {
		t.Fatalf("digest without --remind-after: alice has %d messages", n)
	}
	if _, err := st.SetRemindAfter(t.Context(), info.ID, 4*time.Hour, "admin"); err != nil {
		t.Fatal(err)
	}
	// Too early: nothing waited 4h.
	r.Digests(context.Background(), start.Add(3*time.Hour))
	if n := len(inbox(t, st, "bob@example.com")); n != 0 {
		t.Fatalf("digest before the threshold: bob has %d messages", n)
	}
	// A message arrives 3h after start; at 5h only the first two are due.
	deliverAt(t, st, start.Add(3*time.Hour), info.ID, "INBOX", msg("young@x", "young"))
	at := start.Add(5 * time.Hour)
	if err := r.Digests(context.Background(), at); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"alice@example.com": {"<open@x> (unassigned)"},
		"bob@example.com":   {"<open@x> (unassigned)", "<bobs@x> (assigned to you)"},
		"carol@example.com": {"<open@x> (unassigned)"},
	}
	for who, lines := range want {
		got := inbox(t, st, who)
		if len(got) != 1 {
			t.Fatalf("%s got %d digests, want 1", who, len(got))
		}
		for _, l := range lines {
			if !strings.Contains(got[0], l) {
				t.Errorf("%s's digest lacks %q:\n%s", who, l, got[0])
			}
		}
		for _, never := range []string{"done@x", "answered@x", "young@x"} {
			if strings.Contains(got[0], never) {
				t.Errorf("%s's digest lists %s", who, never)
			}
		}
		if !strings.Contains(got[0], "Auto-Submitted: auto-generated") {
			t.Errorf("%s's digest is not marked Auto-Submitted", who)
		}
	}
	if n := len(inbox(t, st, "dave@example.com")); n != 0 {
		t.Errorf("dave, no member, got %d digests", n)
	}
	// One a day, through the job loop with its clock.
	ctx, cancel := context.WithCancel(context.Background())
	clock := at.Add(20 * time.Hour)
	done := make(chan struct{})
	go func() { r.RunDigests(ctx, time.Hour, func() time.Time { return clock }); close(done) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	if n := len(inbox(t, st, "bob@example.com")); n != 1 {
		t.Errorf("second digest within a day: bob has %d", n)
	}
	r.Digests(context.Background(), at.Add(25*time.Hour))
	if got := inbox(t, st, "bob@example.com"); len(got) != 2 || !strings.Contains(got[1], "young@x") {
		t.Errorf("next day's digest: %d messages", len(got))
	}
}
