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

	"mailsrv/internal/testkit"
)

func TestRealClientsAgainstServeBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mailsrv serve as a child process")
	}
	swaks, err := exec.LookPath("swaks")
	if err != nil {
		t.Skip("swaks not on PATH (apt-get install swaks)")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not on PATH (apt-get install python3)")
	}
	_, conf := serveSetup(t, "alice's long password")
	srv := startServe(t, conf)

	out, err := exec.Command(swaks, "--server", srv.addrs["smtp"], "--tls",
		"--from", "someone@remote.test", "--to", "alice@example.com",
		"--header", "Subject: from swaks", "--body", "swaks body").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "250 ") {
		t.Fatalf("swaks: %v\n%s", err, out)
	}

	got, err := testkit.Python(t, "serve_smtplib_imaplib.py", srv.addrs["submission"], srv.addrs["imaps"], "alice's long password")
	if err != nil {
		t.Fatalf("python: %v\n%s", err, got)
	}
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
