package main

// End-to-end tests of the CLI: the same commands against a stopped server
// (the CLI opens the data directory itself) and a running one (the CLI
// talks over the admin socket) must give the same results.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailsrv/cli"
	"mailsrv/server"
	"mailsrv/server/admin"
	"mailsrv/server/config"
	"mailsrv/store"
)

// testConfig writes a config that binds every listener to a free loopback port.
func testConfig(t *testing.T, dataDir string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mailsrv.toml")
	conf := `hostname = "mail.example.com"
data_dir = "` + dataDir + `"
[listen]
smtp = "127.0.0.1:0"
submission = "127.0.0.1:0"
submissions = "127.0.0.1:0"
imap = "127.0.0.1:0"
imaps = "127.0.0.1:0"
http = "127.0.0.1:0"
https = "127.0.0.1:0"
metrics = "127.0.0.1:0"
[dns]
resolver = "127.0.0.1:9" # nothing answers: no test touches real DNS
[log]
level = "error"
`
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// run executes one CLI invocation in-process and returns stdout and the exit code.
func run(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	code := cli.Execute(root)
	return out.String(), code
}

func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, code := run(t, stdin, args...)
	if code != 0 {
		t.Fatalf("mailsrv %s: exit %d: %s", strings.Join(args, " "), code, out)
	}
	return out
}

// listings are the read-only commands whose output must not depend on
// whether a server runs.
var listings = [][]string{
	{"domain", "list"}, {"domain", "list", "--json"},
	{"user", "list"}, {"user", "list", "--json"},
	{"alias", "list"}, {"alias", "list", "--json"},
	{"queue", "list", "--json"},
}

func TestCLIOfflineAndOnlineGiveSameResults(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	conf := testConfig(t, data)
	g := []string{"--config", conf}

	// Offline: the CLI opens the data directory itself.
	mustRun(t, "", append([]string{"domain", "add", "example.com"}, g...)...)
	mustRun(t, "correct horse battery\n", append([]string{"user", "add", "alice@Example.com", "--name", "Alice", "--password-stdin"}, g...)...)
	mustRun(t, "", append([]string{"alias", "add", "postmaster@example.com", "alice@example.com"}, g...)...)
	if out, code := run(t, "pw-long-enough\n", append([]string{"user", "add", "bob@unknown.org", "--password-stdin"}, g...)...); code != 1 || !strings.Contains(out, "not a local domain") {
		t.Fatalf("unknown domain: exit %d %q", code, out)
	}
	if out, code := run(t, "pw-long-enough\n", append([]string{"user", "add", "postmaster@example.com", "--password-stdin"}, g...)...); code != 1 || !strings.Contains(out, "already used by an alias") {
		t.Fatalf("address of an alias: exit %d %q", code, out)
	}
	if _, code := run(t, "", append([]string{"user", "add"}, g...)...); code != 2 {
		t.Fatalf("usage error exit %d", code)
	}
	out := mustRun(t, "", append([]string{"user", "add", "carol@example.com"}, g...)...)
	if !strings.Contains(out, "password: ") {
		t.Fatalf("no generated password shown: %s", out)
	}
	offline := map[string]string{}
	for _, l := range listings {
		offline[strings.Join(l, " ")] = mustRun(t, "", append(l, g...)...)
	}
	if !strings.Contains(offline["user list"], "alice@example.com") || !strings.Contains(offline["user list"], "carol@example.com") {
		t.Fatalf("user list: %s", offline["user list"])
	}

	// Online: a server holds the database; the CLI must use the socket.
	cfg, err := config.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), cfg, server.NewLogger(cfg.Log, os.Stderr))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	waitForSocket(t, data)

	st, err := os.Stat(admin.SocketPath(data))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket mode: %v %v", st.Mode(), err)
	}
	// A second server on the same data directory fails at once.
	start := time.Now()
	if _, err := server.New(ctx, cfg, server.NewLogger(cfg.Log, os.Stderr)); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second server: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("second server did not fail fast")
	}
	// carol is removed while the server runs, then listings compare equal
	// once she is re-added.
	mustRun(t, "", append([]string{"user", "remove", "carol@example.com"}, g...)...)
	mustRun(t, "another password\n", append([]string{"user", "add", "carol@example.com", "--password-stdin"}, g...)...)
	for _, l := range listings {
		key := strings.Join(l, " ")
		got := mustRun(t, "", append(l, g...)...)
		if key == "user list --json" {
			continue // carol's creation time changed
		}
		if got != offline[key] {
			t.Errorf("%s differs:\noffline:\n%s\nonline:\n%s", key, offline[key], got)
		}
	}
	// An online backup is a tar holding the database and the bodies.
	tarPath := filepath.Join(t.TempDir(), "backup.tar")
	if out := mustRun(t, "", append([]string{"backup", "--out", tarPath}, g...)...); !strings.Contains(out, "wrote "+tarPath) {
		t.Fatalf("backup: %s", out)
	}
	if raw, err := os.ReadFile(tarPath); err != nil || !bytes.Contains(raw, []byte(store.DBFile)) {
		t.Fatalf("backup file: %v", err)
	}
	// A change made through the socket is visible to the running server at once.
	if _, err := srv.Store().User(ctx, "carol@example.com"); err != nil {
		t.Fatalf("running server does not see carol: %v", err)
	}
}

func waitForSocket(t *testing.T, data string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if _, err := admin.Call(data, admin.Request{Op: "domain.list"}); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("admin socket never answered")
}

// An unknown subcommand of a group is a usage error (exit 2), not help
// with exit 0; the bare group still shows its help.
func TestUnknownSubcommandIsUsageError(t *testing.T) {
	if out, code := run(t, "", "user", "frobnicate"); code != 2 || !strings.Contains(out, `unknown command "frobnicate" for "mailsrv user"`) {
		t.Fatalf("exit %d: %s", code, out)
	}
	if out, code := run(t, "", "shared"); code != 0 || !strings.Contains(out, "Available Commands") {
		t.Fatalf("bare group: exit %d: %s", code, out)
	}
}
