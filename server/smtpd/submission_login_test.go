package smtpd

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailsrv/internal/testkit"
)

// dialFrom connects from a chosen loopback address (127.0.0.0/8 is all
// local on Linux), with STARTTLS.
func (e *subEnv) dialFrom(t *testing.T, local string) *smtp.Client {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", e.addr)
	if err != nil {
		t.Skipf("cannot dial from %s (needs the whole 127/8 on loopback): %v", local, err)
	}
	c, err := smtp.NewClientStartTLS(nc, &tls.Config{InsecureSkipVerify: true})
	testkit.Must(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSubmissionDelegateLoginForms (issues 14, 15): every form of delegate
// login works on submission, through the same decision as IMAP.
func TestSubmissionDelegateLoginForms(t *testing.T) {
	e := newSubEnv(t)
	const delegate = `alice@example.com\info-send@example.com`
	forms := map[string]sasl.Client{
		"PLAIN authzid = whole login (mbsync)": sasl.NewPlainClient(delegate, delegate, subPassword),
		"PLAIN authzid mailbox, authcid user":  sasl.NewPlainClient("info-send@example.com", "alice@example.com", subPassword),
		"PLAIN authcid user\\mailbox":          sasl.NewPlainClient("", delegate, subPassword),
		"LOGIN user\\mailbox":                  sasl.NewLoginClient(delegate, subPassword),
		"read right is enough":                 sasl.NewLoginClient(`alice@example.com\info-read@example.com`, subPassword),
	}
	for name, cl := range forms {
		t.Run(name, func(t *testing.T) {
			c := e.dialFrom(t, "127.0.0.1")
			if err := c.Auth(cl); err != nil {
				t.Fatalf("AUTH: %v", err)
			}
			testkit.Must(t, testkit.SMTPSend(c, "info-send@example.com", []string{"bob@example.com"}, subMessage("info-send@example.com", "bob@example.com", name)))
		})
	}
	for name, cl := range map[string]sasl.Client{
		"no right":                sasl.NewLoginClient(`alice@example.com\info-none@example.com`, subPassword),
		"authzid of another user": sasl.NewPlainClient(`bob@example.com\info-send@example.com`, "alice@example.com", subPassword),
		"wrong password":          sasl.NewPlainClient(delegate, delegate, "wrong"),
	} {
		t.Run(name, func(t *testing.T) {
			c := e.dialFrom(t, "127.0.0.1")
			subWantCode(t, c.Auth(cl), 535, "")
		})
	}
}

// TestSubmissionLoginStoreErrorIsTemporary (issue 15 #1): a store error is
// 454, not a failed login.
func TestSubmissionLoginStoreErrorIsTemporary(t *testing.T) {
	e := newSubEnv(t)
	c := e.dialFrom(t, "127.0.0.1")
	e.st.Close()
	subWantCode(t, c.Auth(sasl.NewPlainClient("", "alice@example.com", subPassword)), 454, "")
}

// TestSubmissionBruteForceThrottled (issue 12 #6): guessing one account's
// password from one address runs at most auth_failures_per_minute real
// password checks per minute of (fake) clock and each connection is closed
// after 3 failures, while the same user from another address logs in at
// once, and the right password from the guessing address is still
// accepted (later), never locked out.
func TestSubmissionBruteForceThrottled(t *testing.T) {
	e := newSubEnv(t)
	pw := e.authn.Passwords()
	start := e.clock.Now()
	type sample struct {
		at     time.Time
		checks uint64
	}
	var samples []sample
	closed := 0
	for range 8 { // 8 connections of 3 guesses each
		c := e.dialFrom(t, "127.0.0.1")
		for i := range 4 {
			err := c.Auth(sasl.NewPlainClient("", "Alice@EXAMPLE.com.", "guess"))
			samples = append(samples, sample{e.clock.Now(), pw.Checks()})
			if i < 2 {
				subWantCode(t, err, 535, "")
				continue
			}
			if i == 2 {
				subWantCode(t, err, 421, "closing")
				continue
			}
			if err == nil || c.Noop() == nil {
				t.Fatal("connection still usable after 3 failed logins")
			}
			closed++
		}
	}
	if closed != 8 {
		t.Errorf("%d of 8 connections closed after 3 failures", closed)
	}
	worst := uint64(0)
	for i := range samples {
		for j := i; j < len(samples) && samples[j].at.Sub(samples[i].at) < time.Minute; j++ {
			worst = max(worst, samples[j].checks-samples[i].checks)
		}
	}
	// Counting from the check before the window: at most 10 + 1 per minute.
	if worst > 10 {
		t.Errorf("%d password checks within one minute, limit 10", worst)
	}
	t.Logf("%d checks over %v of clock, at most %d in one minute", pw.Checks(), e.clock.Now().Sub(start), worst)

	slept := e.clock.Slept()
	other := e.dialFrom(t, "127.0.0.2")
	testkit.Must(t, other.Auth(sasl.NewPlainClient("", "alice@example.com", subPassword)))
	if e.clock.Slept() != slept {
		t.Errorf("login from a network that was not failing waited %v", e.clock.Slept()-slept)
	}
	same := e.dialFrom(t, "127.0.0.1")
	testkit.Must(t, same.Auth(sasl.NewPlainClient("", "alice@example.com", subPassword)))
}
