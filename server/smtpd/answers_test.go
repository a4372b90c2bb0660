package smtpd

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailsrv/internal/testkit"
)

// TestSMTPAnswers (issue 12 #9, SMTP part): the answers our sessions give
// for inputs go-smtp leaves to them, on MX and submission.
func TestSMTPAnswers(t *testing.T) {
	mx := newMXEnv(t, func(o *MXOptions) { o.Limits.MaxMessageBytes = 1 << 20 })
	sub := newSubEnv(t)
	sessions := map[string]func(t *testing.T) *wire{
		"mx": func(t *testing.T) *wire {
			w := dialWire(t, mx.addr)
			w.want("EHLO", w.cmd("EHLO client.test"), "250")
			return w
		},
		"submission": sub.subWire,
	}
	from := map[string]string{"mx": "<x@remote.test>", "submission": "<alice@example.com>"}
	for name, open := range sessions {
		t.Run(name, func(t *testing.T) {
			w := open(t)
			w.want("MAIL", w.cmd("MAIL FROM:"+from[name]), "250")
			w.want("second MAIL", w.cmd("MAIL FROM:"+from[name]), "503 5.5.1")
			w.want("RSET", w.cmd("RSET"), "250")
			w.want("NUL in MAIL FROM", w.cmd("MAIL FROM:<a\x00b@remote.test>"), "501")
			w.want("MAIL after refusal", w.cmd("MAIL FROM:"+from[name]), "250")
			// BDAT may not carry a line longer than DATA allows.
			w.want("RCPT", w.cmd("RCPT TO:<bob@example.com>"), "250")
			line := strings.Repeat("x", 70<<10)
			chunk := "Subject: long\r\n\r\n" + line + "\r\n"
			w.send("BDAT " + strconv.Itoa(len(chunk)) + " LAST\r\n" + chunk)
			w.want("BDAT with a 70 KB line", w.read(), "500 5.5.2")
		})
	}
	t.Run("mx AUTH", func(t *testing.T) {
		// RFC 5321 §4.2.4 / RFC 4954: AUTH is not implemented on MX:
		// 502, not 523 (TLS required) nor 504 (unknown mechanism); EHLO
		// does not offer it, and the session goes on.
		w := sessions["mx"](t)
		w.want("AUTH PLAIN on MX", w.cmd("AUTH PLAIN"), "502 5.5.1")
		w.want("AUTH LOGIN on MX", w.cmd("AUTH LOGIN"), "502 5.5.1")
		w.want("AUTH with initial response on MX", w.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00a\x00b"))), "502 5.5.1")
		if ehlo := w.cmd("EHLO client.test"); strings.Contains(ehlo, "AUTH") {
			t.Errorf("MX offers AUTH: %q", ehlo)
		}
		w.want("MAIL after AUTH", w.cmd("MAIL FROM:<x@remote.test>"), "250")
	})
	t.Run("submission malformed AUTH", func(t *testing.T) {
		w := dialWire(t, sub.addr)
		w.want("EHLO", w.cmd("EHLO client.test"), "250")
		w.startTLS()
		w.want("EHLO", w.cmd("EHLO client.test"), "250")
		noNULs := base64.StdEncoding.EncodeToString([]byte("alice@example.com"))
		w.want("PLAIN without NULs", w.cmd("AUTH PLAIN "+noNULs), "501 5.5.2")
		four := base64.StdEncoding.EncodeToString([]byte("a\x00b\x00c\x00d\x00e"))
		w.want("PLAIN with 4 NULs", w.cmd("AUTH PLAIN "+four), "501 5.5.2")
	})
}

// TestSMTPDuplicateRecipientsCollapse (issue 12 #9): the same recipient
// twice, in any case, is one delivery (and one queue entry).
func TestSMTPDuplicateRecipientsCollapse(t *testing.T) {
	mx := newMXEnv(t)
	testkit.Must(t, mx.send("x@remote.test", []string{"bob@example.com", "Bob@EXAMPLE.com", "BOB@example.com."},
		message("x@remote.test", "bob@example.com", "dup", "hi")))
	if n := len(mx.folder(t, "bob@example.com", "INBOX")); n != 1 {
		t.Errorf("MX: bob got %d copies", n)
	}
	sub := newSubEnv(t)
	c := sub.login(t, "", "alice@example.com")
	testkit.Must(t, testkit.SMTPSend(c, "alice@example.com", []string{"bob@example.com", "BOB@example.com", "carol@remote.test", "Carol@Remote.Test"},
		subMessage("alice@example.com", "bob@example.com", "dup")))
	if n := len(sub.folder(t, sub.mailboxOf(t, "bob@example.com"), "INBOX")); n != 1 {
		t.Errorf("submission: bob got %d copies", n)
	}
	q, err := sub.st.Queue(t.Context())
	testkit.Must(t, err)
	if len(q) != 1 || len(q[0].To) != 1 {
		t.Errorf("submission: queue %+v, want one item for one remote recipient", q)
	}
}

// TestMXUnknownRecipientTarpit (issue 12 #9): unknown recipients beyond a
// few are answered ever more slowly, and the session is closed with 421
// after tarpitMaxUnknown of them (10,000 used to run at full speed).
func TestMXUnknownRecipientTarpit(t *testing.T) {
	mx := newMXEnv(t, func(o *MXOptions) { o.UnknownRcptDelay = 20 * time.Millisecond })
	w := dialWire(t, mx.addr)
	w.want("EHLO", w.cmd("EHLO client.test"), "250")
	w.want("MAIL", w.cmd("MAIL FROM:<x@remote.test>"), "250")
	var took []time.Duration
	for i := 1; i <= tarpitMaxUnknown; i++ {
		start := time.Now()
		r := w.cmd("RCPT TO:<nobody" + strconv.Itoa(i) + "@example.com>")
		took = append(took, time.Since(start))
		if i < tarpitMaxUnknown {
			w.want("unknown RCPT", r, "550 5.1.1")
		} else {
			w.want("last unknown RCPT", r, "421 4.7.0")
		}
	}
	if r := w.read(); !strings.HasPrefix(r, "EOF") {
		t.Errorf("connection still open after the tarpit's 421: %q", r)
	}
	if took[0] > 15*time.Millisecond || took[tarpitMaxUnknown-1] < 5*20*time.Millisecond {
		t.Errorf("no growing delay: first %v, last %v", took[0], took[tarpitMaxUnknown-1])
	}
}
