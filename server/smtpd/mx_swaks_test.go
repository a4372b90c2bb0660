package smtpd

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestMXWithSwaks talks to the MX server with swaks (Debian package
// "swaks"), a real-world SMTP client, in plain text, with STARTTLS and with
// pipelining, and checks what it reports and what got stored. CI installs
// swaks; without it the test is skipped.
func TestMXWithSwaks(t *testing.T) {
	swaks, err := exec.LookPath("swaks")
	if err != nil {
		t.Skip("swaks not on PATH (apt-get install swaks); skipping the swaks interoperability test")
	}
	e := newMXEnv(t)
	host, port, _ := net.SplitHostPort(e.addr)
	run := func(t *testing.T, args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		base := []string{"--server", host, "--port", port, "--helo", "client.good.test",
			"--from", "sender@nodmarc.test", "--timeout", "10"}
		out, err := exec.CommandContext(ctx, swaks, append(base, args...)...).CombinedOutput()
		return string(out), err
	}

	cases := []struct {
		name     string
		args     []string
		received string // expected in our Received field
	}{
		{"plain", nil, "with ESMTP id"},
		{"starttls", []string{"--tls"}, "with ESMTPS id"},
		{"pipelining", []string{"--pipeline"}, "with ESMTP id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			subject := "swaks-" + tc.name
			out, err := run(t, append([]string{"--to", "alice@example.com", "--header", "Subject: " + subject,
				"--body", "sent by swaks " + tc.name}, tc.args...)...)
			if err != nil {
				t.Fatalf("swaks failed: %v\n%s", err, out)
			}
			if !strings.Contains(out, "250 2.0.0 OK: queued") {
				t.Fatalf("no 250 after data in swaks output:\n%s", out)
			}
			var found bool
			for _, m := range e.folder(t, "alice@example.com", "INBOX") {
				if header(m.Raw, "Subject") != subject {
					continue
				}
				found = true
				if r := header(m.Raw, "Received"); !strings.Contains(r, tc.received) {
					t.Errorf("Received %q lacks %q", r, tc.received)
				}
				if ar := header(m.Raw, "Authentication-Results"); !strings.Contains(ar, "spf=fail") {
					t.Errorf("Authentication-Results %q", ar)
				}
				if !strings.Contains(m.Raw, "sent by swaks "+tc.name) {
					t.Errorf("body missing:\n%s", m.Raw)
				}
			}
			if !found {
				t.Fatalf("%s not stored; swaks said:\n%s", subject, out)
			}
		})
	}

	t.Run("unknown user", func(t *testing.T) {
		out, err := run(t, "--to", "nobody@example.com")
		if err == nil || !strings.Contains(out, "550 5.1.1") {
			t.Fatalf("want 550 5.1.1, err %v:\n%s", err, out)
		}
	})
	t.Run("relay", func(t *testing.T) {
		out, err := run(t, "--to", "victim@elsewhere.org")
		if err == nil || !strings.Contains(out, "554 5.7.1") {
			t.Fatalf("want 554 5.7.1, err %v:\n%s", err, out)
		}
	})
}
