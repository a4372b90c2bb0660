package main

// Real Debian clients against the real `mailsrv serve` process (started by
// startServe in crash_test.go): swaks into the MX port with STARTTLS, then
// python's smtplib submitting with AUTH LOGIN and imaplib reading over
// implicit TLS. Each skips itself when its tool is missing; .ci/run
// installs them.

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

func TestRealClientsAgainstServeBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mailsrv serve as a child process")
	}
	swaks, err := exec.LookPath("swaks")
	if err != nil {
		t.Skip("swaks not on PATH (apt-get install swaks)")
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not on PATH")
	}
	_, conf := serveSetup(t, "alice's long password")
	srv := startServe(t, conf)

	out, err := exec.Command(swaks, "--server", srv.addrs["smtp"], "--tls",
		"--from", "someone@remote.test", "--to", "alice@example.com",
		"--header", "Subject: from swaks", "--body", "swaks body").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "250 ") {
		t.Fatalf("swaks: %v\n%s", err, out)
	}

	script := `
import imaplib, smtplib, ssl, sys
from email.message import EmailMessage
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
sub_host, sub_port = sys.argv[1].rsplit(":", 1)
imap_host, imap_port = sys.argv[2].rsplit(":", 1)
s = smtplib.SMTP(sub_host, int(sub_port))
s.starttls(context=ctx)
s.ehlo()
s.esmtp_features["auth"] = "LOGIN"  # force AUTH LOGIN, as Outlook does
s.login("alice@example.com", "alice's long password")
m = EmailMessage(); m["From"] = "alice@example.com"; m["To"] = "alice@example.com"; m["Subject"] = "from smtplib"; m.set_content("hi")
s.send_message(m)
s.quit()
M = imaplib.IMAP4_SSL(imap_host, int(imap_port), ssl_context=ctx)
M.login("alice@example.com", "alice's long password")
typ, d = M.select("INBOX")
print("EXISTS", d[0].decode())
typ, d = M.uid("SEARCH", "SUBJECT", "swaks")
print("SWAKS", d[0].decode())
typ, d = M.uid("FETCH", d[0].split()[0], "(BODY.PEEK[HEADER.FIELDS (Authentication-Results)])")
print("AR", d[0][1].decode().strip().replace("\r\n", " "))
M.logout()
`
	out, err = exec.Command(python, "-c", script, srv.addrs["submission"], srv.addrs["imaps"]).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	got := string(out)
	if !strings.Contains(got, "EXISTS 2") || !strings.Contains(got, "SWAKS 1") || !strings.Contains(got, "Authentication-Results: mail.example.com") {
		t.Fatalf("python saw:\n%s", got)
	}

	// The CLI, through the admin socket, agrees.
	var users []struct {
		Address  string `json:"address"`
		Messages int    `json:"messages"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "", "--config", conf, "user", "list", "--json")), &users); err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].Messages != 2 {
		t.Fatalf("user list: %+v", users)
	}
}
