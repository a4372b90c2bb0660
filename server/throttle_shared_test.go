package server

import (
	"net"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TestLoginThrottleSharedByIMAPAndSubmission (issue 12 #6, 15 #1): the
// serve wiring gives IMAP and submission one login decision and one
// throttle. Failed IMAP logins from 127.0.0.1 delay the next submission
// login of that account from 127.0.0.1 (real clock: the second failure in
// a row waits 2 s), while from 127.0.0.2, a network that has not been
// failing, the same account logs in at once.
func TestLoginThrottleSharedByIMAPAndSubmission(t *testing.T) {
	s, _ := infoFixture(t)
	var lastFail time.Time // before the second failure: the throttle counts from it
	for range 2 {
		lastFail = time.Now()
		c, err := imapclient.DialTLS(s.Addr("imaps").String(), &imapclient.Options{TLSConfig: insecureTLS})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login("alice@example.com", "wrong").Wait(); err == nil {
			t.Fatal("wrong password accepted")
		}
		c.Close()
	}
	// login returns when the AUTH of alice from local succeeded.
	login := func(local string) time.Time {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
		nc, err := d.Dial("tcp", s.Addr("submission").String())
		if err != nil {
			t.Skipf("cannot dial from %s: %v", local, err)
		}
		c, err := smtp.NewClientStartTLS(nc, insecureTLS)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Auth(sasl.NewPlainClient("", "alice@example.com", "alice-password")); err != nil {
			t.Errorf("AUTH from %s: %v", local, err)
		}
		return time.Now()
	}
	// Both at once, so a loaded machine slows both alike: the failing
	// network waits out the throttle, the other one does not.
	other := make(chan time.Time, 1)
	go func() { other <- login("127.0.0.2") }()
	same := login("127.0.0.1")
	otherDone := <-other
	if d := same.Sub(lastFail); d < 2*time.Second {
		t.Errorf("submission login right after IMAP failures from the same address ended %v after the last failure began, want the throttle's 2 s", d)
	}
	if !otherDone.Before(same) {
		t.Errorf("login from a network that was not failing ended %v after the throttled one", otherDone.Sub(same))
	}
}
