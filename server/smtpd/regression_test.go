package smtpd

import (
	"strings"
	"testing"
	"time"
)

// relayForms are recipient spellings that try to get mail relayed to
// remote.test (or any non-local place) through a local domain. None may be
// accepted: not by MX, not by submission without AUTH (issue 12: "no relay
// in 231 forms", kept under test).
var relayForms = []string{
	"<victim@remote.test>",
	"<victim@REMOTE.TEST>",
	"<victim@remote.test.>",
	"<victim%remote.test@example.com>",
	"<victim%remote.test@EXAMPLE.com>",
	"<\"victim%remote.test\"@example.com>",
	"<\"victim@remote.test\"@example.com>",
	"<\"victim@remote.test\">",
	"<victim@remote.test@example.com>",
	"<victim@example.com@remote.test>",
	"<@example.com:victim@remote.test>",
	"<@example.com,@mx.example.com:victim@remote.test>",
	"<remote.test!victim@example.com>",
	"<remote.test!victim>",
	"<victim!remote.test>",
	"<victim@[192.0.2.1]>",
	"<victim@[127.0.0.1]>",
	"<victim@[IPv6:::1]>",
	"<victim@192.0.2.1>",
	"<victim@example.com.remote.test>",
	"<victim@remote.test\\@example.com>",
	"<victim@remote.test%example.com>",
	"<victim@remote.test:25>",
	"<victim@remote.test>example.com",
	"victim@remote.test",
	"<victim@remote.test >",
	"< victim@remote.test>",
	"<victim\x00@example.com>",
	"<victim@xn--exmple-cua.com>",
	"<victim@exämple.com>",
	"<postmaster@remote.test>",
	"<>",
	"<@>",
	"<@example.com>",
	"<example.com>",
}

// TestMXOpenRelayForms: MX answers every relay form with a refusal.
func TestMXOpenRelayForms(t *testing.T) {
	e := newMXEnv(t, func(o *MXOptions) { o.UnknownRcptDelay = time.Millisecond })
	var w *wire
	for i, rc := range relayForms {
		if i%10 == 0 { // a new session before the unknown-recipient tarpit ends one
			w = dialWire(t, e.addr)
			w.want("EHLO", w.cmd("EHLO client.test"), "250")
		}
		w.want("MAIL", w.cmd("MAIL FROM:<x@remote.test>"), "250")
		if r := w.cmd("RCPT TO:" + rc); !strings.HasPrefix(r, "5") {
			t.Errorf("MX RCPT TO:%q answered %q, want a 5xx refusal", rc, r)
		}
		w.want("RSET", w.cmd("RSET"), "250")
	}
	// The control: a local recipient is accepted on the same session.
	w.want("MAIL", w.cmd("MAIL FROM:<x@remote.test>"), "250")
	w.want("local RCPT", w.cmd("RCPT TO:<bob@example.com>"), "250")
}

// TestSubmissionOpenRelayWithoutAuth: submission without AUTH refuses the
// transaction for every form, before and after STARTTLS.
func TestSubmissionOpenRelayWithoutAuth(t *testing.T) {
	e := newSubEnv(t)
	for _, tls := range []bool{false, true} {
		w := dialWire(t, e.addr)
		w.want("EHLO", w.cmd("EHLO client.test"), "250")
		if tls {
			w.startTLS()
			w.want("EHLO", w.cmd("EHLO client.test"), "250")
		}
		for _, from := range []string{"<alice@example.com>", "<alice@example.com> AUTH=<alice@example.com>", "<x@remote.test>", "<>"} {
			if r := w.cmd("MAIL FROM:" + from); !strings.HasPrefix(r, "5") {
				t.Errorf("tls=%v: MAIL FROM:%s without AUTH answered %q", tls, from, r)
			}
		}
		for _, rc := range relayForms {
			if r := w.cmd("RCPT TO:" + rc); !strings.HasPrefix(r, "5") {
				t.Errorf("tls=%v: RCPT TO:%q without AUTH answered %q", tls, rc, r)
			}
		}
		if r := w.cmd("DATA"); !strings.HasPrefix(r, "5") {
			t.Errorf("tls=%v: DATA without AUTH answered %q", tls, r)
		}
	}
	if q, err := e.st.Queue(t.Context()); err != nil || len(q) != 0 {
		t.Errorf("queue after relay attempts: %+v %v", q, err)
	}
}

// TestMXSmugglingEndings: only CRLF.CRLF ends DATA. For every other
// ending, what follows it (a whole second transaction for carol) stays in
// the body of the one message bob gets; nothing reaches carol and the
// server sends exactly one reply to the DATA content.
func TestMXSmugglingEndings(t *testing.T) {
	e := newMXEnv(t)
	endings := map[string]string{
		"LF.LF":     "\n.\n",
		"CR.LF":     "\r.\n",
		"LF.CRLF":   "\n.\r\n",
		"CRLF.LF":   "\r\n.\n",
		"CRLF.CR":   "\r\n.\r",
		"CR.CR":     "\r.\r",
		"LF.CR":     "\n.\r",
		"CR.CRLF":   "\r.\r\n",
		"CRLF.CRCR": "\r\n.\r\r\n",
		"CRLF.SP":   "\r\n. \r\n",
		"CRLF..":    "\r\n..\r\n",
		"NUL":       "\r\n.\x00\r\n",
	}
	delivered := 0
	for name, end := range endings {
		w := dialWire(t, e.addr)
		w.want(name+" EHLO", w.cmd("EHLO client.test"), "250")
		w.want(name+" MAIL", w.cmd("MAIL FROM:<x@remote.test>"), "250")
		w.want(name+" RCPT", w.cmd("RCPT TO:<bob@example.com>"), "250")
		w.want(name+" DATA", w.cmd("DATA"), "354")
		w.send("From: x@remote.test\r\nSubject: " + name + "\r\n\r\nbefore" + end +
			"MAIL FROM:<evil@remote.test>\r\nRCPT TO:<carol@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n")
		w.want(name+" end of data", w.read(), "250")
		delivered++
		// Nothing else may answer: a second transaction would give 250s.
		w.c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if l, err := w.br.ReadString('\n'); err == nil {
			t.Errorf("%s: extra reply %q: the ending split the message", name, l)
		}
		w.c.SetReadDeadline(time.Time{})
		w.cmd("QUIT")
		msgs := e.folder(t, "bob@example.com", "INBOX")
		if len(msgs) != delivered {
			t.Fatalf("%s: bob has %d messages, want %d", name, len(msgs), delivered)
		}
		if body := msgs[len(msgs)-1].Raw; !strings.Contains(body, "Subject: smuggled") {
			t.Errorf("%s: the smuggled text is not in bob's message body: %q", name, body)
		}
	}
	if n := len(e.folder(t, "carol@example.com", "INBOX")); n != 0 {
		t.Errorf("carol received %d smuggled messages", n)
	}
}
