package smtpd

import (
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailsrv/internal/testkit"
)

func TestSubmissionSendAsMatrix(t *testing.T) {
	e := newSubEnv(t)
	c := e.login(t, "", "alice@example.com")
	bob := e.mailboxOf(t, "bob@example.com")
	cases := []struct {
		from    string
		ok      bool
		shared  string // key of e.shared that gets a Sent copy
		sender  bool   // Sender: alice added
		errText string
	}{
		{from: "alice@example.com", ok: true},
		{from: "al@example.com", ok: true},
		{from: "info-send@example.com", ok: true, shared: "send"},
		{from: "info-obo@example.com", ok: true, shared: "obo", sender: true},
		{from: "info-read@example.com", errText: "info-read@example.com: you lack the send"},
		{from: "info-none@example.com", errText: "info-none@example.com: you lack the send"},
		{from: "bob@example.com", errText: "bob@example.com: it belongs to another user"},
		{from: "stranger@elsewhere.test", errText: "not one of your addresses"},
	}
	delivered := 0
	for _, tc := range cases {
		subj := "from " + tc.from
		err := testkit.SMTPSend(c, tc.from, []string{"bob@example.com"}, subMessage(tc.from, "bob@example.com", subj))
		if !tc.ok {
			subWantCode(t, err, 550, tc.errText)
			// The header From: is checked too, with an allowed envelope.
			err = testkit.SMTPSend(c, "alice@example.com", []string{"bob@example.com"}, subMessage(tc.from, "bob@example.com", subj))
			subWantCode(t, err, 550, tc.errText)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.from, err)
		}
		delivered++
		in := e.folder(t, bob, "INBOX")
		if len(in) != delivered {
			t.Fatalf("%s: bob has %d messages, want %d", tc.from, len(in), delivered)
		}
		got := in[len(in)-1]
		if hasSender := strings.Contains(got, "Sender: <alice@example.com>\r\n"); hasSender != tc.sender {
			t.Errorf("%s: Sender added = %v, want %v", tc.from, hasSender, tc.sender)
		}
		if tc.shared != "" {
			mb := e.shared[tc.shared]
			sent := e.folder(t, mb.ID, "Sent")
			if len(sent) != 1 || !strings.Contains(sent[0], "Subject: "+subj) {
				t.Errorf("%s: Sent copy missing: %d messages", tc.from, len(sent))
			}
			log, err := e.st.AuditLog(t.Context(), mb.ID, time.Time{})
			testkit.Must(t, err)
			want := map[string]string{"send": "send-as", "obo": "send-on-behalf"}[tc.shared]
			found := false
			for _, a := range log {
				found = found || (a.Action == want && a.Actor == "alice@example.com")
			}
			if !found {
				t.Errorf("%s: no %s audit entry in %+v", tc.from, want, log)
			}
		}
	}
	// A member with only send-on-behalf may not claim someone else as Sender.
	err := testkit.SMTPSend(c, "alice@example.com", []string{"bob@example.com"},
		subMessage("info-obo@example.com", "bob@example.com", "x", "Sender: bob@example.com"))
	subWantCode(t, err, 550, "Sender")
}

func TestSubmissionRevokeMidSession(t *testing.T) {
	e := newSubEnv(t)
	c := e.login(t, "", "alice@example.com")
	mb := e.shared["send"]
	msg := subMessage("info-send@example.com", "bob@example.com", "one")
	testkit.Must(t, testkit.SMTPSend(c, "info-send@example.com", []string{"bob@example.com"}, msg))
	testkit.Must(t, e.st.Revoke(t.Context(), mb.ID, "alice@example.com", "admin"))
	err := testkit.SMTPSend(c, "info-send@example.com", []string{"bob@example.com"}, msg)
	subWantCode(t, err, 550, "info-send@example.com")
	// Envelope from alice, header From the revoked mailbox: refused too.
	err = testkit.SMTPSend(c, "alice@example.com", []string{"bob@example.com"}, msg)
	subWantCode(t, err, 550, "info-send@example.com")
	if n := len(e.folder(t, mb.ID, "Sent")); n != 1 {
		t.Errorf("Sent has %d messages, want 1", n)
	}
}

func TestSubmissionDKIMVerifies(t *testing.T) {
	e := newSubEnv(t)
	c := e.login(t, "", "alice@example.com")
	testkit.Must(t, testkit.SMTPSend(c, "alice@example.com", []string{"bob@example.com"},
		subMessage("Alice <alice@example.com>", "bob@example.com", "signed")))
	in := e.folder(t, e.mailboxOf(t, "bob@example.com"), "INBOX")
	if len(in) != 1 {
		t.Fatalf("bob has %d messages", len(in))
	}
	verifs, err := dkim.VerifyWithOptions(strings.NewReader(in[0]), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			sel, _, _ := strings.Cut(name, "._domainkey.")
			if r, ok := e.keys[sel]; ok && strings.HasSuffix(name, "._domainkey.example.com") {
				return []string{r}, nil
			}
			return nil, fmt.Errorf("no TXT for %s", name)
		},
	})
	testkit.Must(t, err)
	if len(verifs) != 2 {
		t.Fatalf("%d signatures, want 2 (ed25519 + RSA)", len(verifs))
	}
	for _, v := range verifs {
		if v.Err != nil || v.Domain != "example.com" {
			t.Errorf("signature %+v: %v", v, v.Err)
		}
	}
	for _, h := range []string{"Received: from ", "Message-ID: <", "Date: "} {
		if !strings.Contains(in[0], h) {
			t.Errorf("stored message lacks %q", h)
		}
	}
}

func TestSubmissionDelegateLogin(t *testing.T) {
	e := newSubEnv(t)
	// Exchange-style user name with SASL LOGIN, and PLAIN authzid.
	c, err := smtp.DialStartTLS(e.addr, &tls.Config{InsecureSkipVerify: true})
	testkit.Must(t, err)
	defer c.Close()
	testkit.Must(t, c.Auth(sasl.NewLoginClient(`alice@example.com\info-send@example.com`, subPassword)))
	testkit.Must(t, testkit.SMTPSend(c, "info-send@example.com", []string{"bob@example.com"}, subMessage("info-send@example.com", "bob@example.com", "d")))
	c2 := e.login(t, "info-obo@example.com", "alice@example.com")
	testkit.Must(t, testkit.SMTPSend(c2, "alice@example.com", []string{"bob@example.com"}, subMessage("info-obo@example.com", "bob@example.com", "d2")))
	// No rights at all on the mailbox: the delegate login fails.
	c3, err := smtp.DialStartTLS(e.addr, &tls.Config{InsecureSkipVerify: true})
	testkit.Must(t, err)
	defer c3.Close()
	subWantCode(t, c3.Auth(sasl.NewPlainClient("info-none@example.com", "alice@example.com", subPassword)), 535, "")
}

func TestSubmissionAuthRules(t *testing.T) {
	e := newSubEnv(t)
	// AUTH before STARTTLS is refused.
	c, err := smtp.Dial(e.addr)
	testkit.Must(t, err)
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.com", subPassword)); err == nil {
		t.Fatal("AUTH accepted without TLS")
	}
	// MAIL without AUTH is refused.
	c2, err := smtp.DialStartTLS(e.addr, &tls.Config{InsecureSkipVerify: true})
	testkit.Must(t, err)
	defer c2.Close()
	subWantCode(t, c2.Mail("alice@example.com", nil), 530, "")
	// Wrong passwords are slowed down, never locked out: after a few
	// failures the right password still works (issue 12 #6).
	for range 4 {
		c, err := smtp.DialStartTLS(e.addr, &tls.Config{InsecureSkipVerify: true})
		testkit.Must(t, err)
		subWantCode(t, c.Auth(sasl.NewPlainClient("", "bob@example.com", "wrong")), 535, "")
		c.Close()
	}
	if e.clock.Slept() == 0 {
		t.Error("repeated failures were not delayed")
	}
	c3, err := smtp.DialStartTLS(e.addr, &tls.Config{InsecureSkipVerify: true})
	testkit.Must(t, err)
	defer c3.Close()
	testkit.Must(t, c3.Auth(sasl.NewPlainClient("", "bob@example.com", subPassword)))
}

func TestSubmissionRecipients(t *testing.T) {
	e := newSubEnv(t)
	c := e.login(t, "", "alice@example.com")
	testkit.Must(t, c.Mail("alice@example.com", nil))
	subWantCode(t, c.Rcpt("nobody@example.com", nil), 550, "nobody@example.com")
	testkit.Must(t, c.Reset())
	// Local and remote in one message: local delivered, remote queued.
	testkit.Must(t, testkit.SMTPSend(c, "info-send@example.com", []string{"bob@example.com", "carol@remote.test"},
		subMessage("info-send@example.com", "carol@remote.test", "mixed")))
	q, err := e.st.Queue(t.Context())
	testkit.Must(t, err)
	if len(q) != 1 || q[0].From != "info-send@example.com" || strings.Join(q[0].To, ",") != "carol@remote.test" {
		t.Fatalf("queue = %+v", q)
	}
	if e.woken.Load() == 0 {
		t.Error("Wake not called after queuing")
	}
	if n := len(e.folder(t, e.mailboxOf(t, "bob@example.com"), "INBOX")); n != 1 {
		t.Errorf("bob has %d messages", n)
	}
}

// TestSubmissionPythonSmtplib is the real-client check: python's smtplib
// with STARTTLS and AUTH LOGIN (what Outlook uses).
func TestSubmissionPythonSmtplib(t *testing.T) {
	e := newSubEnv(t)
	host, port, _ := strings.Cut(e.addr, ":")
	if out, err := testkit.Python(t, "submit_smtplib.py", host, port, "alice@example.com", subPassword); err != nil {
		t.Fatalf("python smtplib: %v\n%s", err, out)
	}
	in := e.folder(t, e.mailboxOf(t, "bob@example.com"), "INBOX")
	if len(in) != 1 || !strings.Contains(in[0], "Subject: from python") {
		t.Fatalf("bob's INBOX: %q", in)
	}
}
