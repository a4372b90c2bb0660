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
	for range 2 {
		c, err := imapclient.DialTLS(s.Addr("imaps").String(), &imapclient.Options{TLSConfig: insecureTLS})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login("alice@example.com", "wrong").Wait(); err == nil {
			t.Fatal("wrong password accepted")
		}
		c.Close()
	}
	login := func(local string) time.Duration {
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
		start := time.Now()
		if err := c.Auth(sasl.NewPlainClient("", "alice@example.com", "alice-password")); err != nil {
			t.Fatalf("AUTH from %s: %v", local, err)
		}
		return time.Since(start)
	}
	if d := login("127.0.0.2"); d > time.Second {
		t.Errorf("login from a network that was not failing took %v", d)
	}
	if d := login("127.0.0.1"); d < time.Second {
		t.Errorf("submission login right after IMAP failures from the same address took only %v", d)
	}
}
