package smtpd

import (
	"errors"
	"io"
	"testing"

	"github.com/emersion/go-smtp"

	"mailsrv/internal/testkit"
	"mailsrv/store"
)

// fill delivers one message of n bytes to addr's INBOX (as MX intake
// would) so its usage reaches a quota.
func fillMailbox(t *testing.T, st *store.Store, mbid uint64, n int) {
	t.Helper()
	w, err := st.NewBlob(t.Context(), 0)
	testkit.Must(t, err)
	msg := "Subject: filler\r\n\r\n"
	for len(msg) < n {
		msg += "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"
	}
	io.WriteString(w, msg)
	testkit.Must(t, w.Sync())
	if _, err := st.Deliver(t.Context(), store.Delivery{Blob: w, Targets: []store.Target{{MailboxID: mbid}}}); err != nil {
		w.Abort()
		t.Fatal(err)
	}
}

// RFC 9208 / SPEC §3: a full mailbox is refused at RCPT with 452 4.2.2;
// the other recipients of the same transaction still get the message.
func TestMXOverQuotaRecipient(t *testing.T) {
	e := newMXEnv(t)
	bob, err := e.st.MailboxByAddress(t.Context(), "bob@example.com")
	testkit.Must(t, err)
	testkit.Must(t, e.st.SetQuota(t.Context(), bob.ID, store.QuotaLimit{Bytes: 2000}, "admin"))
	fillMailbox(t, e.st, bob.ID, 2000)

	c, err := smtp.Dial(e.addr)
	testkit.Must(t, err)
	defer c.Close()
	testkit.Must(t, c.Hello("client.good.test"))
	testkit.Must(t, c.Mail("s@good.test", nil))
	testkit.Must(t, c.Rcpt("alice@example.com", nil))
	wantCode(t, c.Rcpt("bob@example.com", nil), 452, "4.2.2")
	testkit.Must(t, c.Rcpt("info@example.com", nil))
	w, err := c.Data()
	testkit.Must(t, err)
	io.WriteString(w, message("s@good.test", "team@example.com", "quota", "hello\r\n"))
	testkit.Must(t, w.Close())
	testkit.Must(t, c.Quit())
	if n := len(e.folder(t, "alice@example.com", "INBOX")); n != 1 {
		t.Errorf("alice has %d messages, want 1", n)
	}
	if n := len(e.folder(t, "info@example.com", "INBOX")); n != 1 {
		t.Errorf("info has %d messages, want 1", n)
	}
	if n := len(e.folder(t, "bob@example.com", "INBOX")); n != 1 {
		t.Errorf("bob (over quota) has %d messages, want only the filler", n)
	}

	// A shared mailbox's own quota: info@ full refuses info@, not its
	// members (alice's mailbox has room).
	info, err := e.st.MailboxByAddress(t.Context(), "info@example.com")
	testkit.Must(t, err)
	testkit.Must(t, e.st.SetQuota(t.Context(), info.ID, store.QuotaLimit{Bytes: 1}, "admin"))
	err = e.send("s@good.test", []string{"info@example.com"}, message("s@good.test", "info@example.com", "q2", "x\r\n"))
	wantCode(t, err, 452, "4.2.2")
	testkit.Must(t, e.send("s@good.test", []string{"alice@example.com"}, message("s@good.test", "alice@example.com", "q3", "x\r\n")))

	// Raising the quota (0 = unlimited) lets mail in again at once.
	testkit.Must(t, e.st.SetQuota(t.Context(), bob.ID, store.QuotaLimit{}, "admin"))
	testkit.Must(t, e.send("s@good.test", []string{"bob@example.com"}, message("s@good.test", "bob@example.com", "q4", "x\r\n")))
}

// Submission to a local recipient whose mailbox is full: 452 4.2.2 at
// RCPT, and the others in the same message get it.
func TestSubmissionOverQuotaRecipient(t *testing.T) {
	e := newSubEnv(t)
	bob := e.mailboxOf(t, "bob@example.com")
	testkit.Must(t, e.st.SetQuota(t.Context(), bob, store.QuotaLimit{Messages: 1}, "admin"))
	fillMailbox(t, e.st, bob, 10)
	c := e.login(t, "", "alice@example.com")
	testkit.Must(t, c.Mail("alice@example.com", nil))
	err := c.Rcpt("bob@example.com", nil)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 452 || se.EnhancedCode != (smtp.EnhancedCode{4, 2, 2}) {
		t.Fatalf("RCPT to a full mailbox: %v, want 452 4.2.2", err)
	}
	testkit.Must(t, c.Rcpt("carol@remote.test", nil))
	w, err := c.Data()
	testkit.Must(t, err)
	io.WriteString(w, subMessage("alice@example.com", "carol@remote.test", "quota"))
	testkit.Must(t, w.Close())
	q, err := e.st.Queue(t.Context())
	testkit.Must(t, err)
	if len(q) != 1 {
		t.Fatalf("the remote recipient was not queued: %+v", q)
	}
	if n := len(e.folder(t, bob, "INBOX")); n != 1 {
		t.Fatalf("bob has %d messages, want only the filler", n)
	}
}
