package imapd

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mailsrv/internal/testkit"
	"mailsrv/server/config"
	"mailsrv/server/tlsconf/testcert"
)

// selfSigned makes a certificate for 127.0.0.1/localhost and writes its
// PEM to dir/cert.pem for external clients to trust.
func selfSigned(t *testing.T, dir string) (*tls.Config, string) {
	t.Helper()
	cfg, certPEM := testcert.New(t, "localhost")
	path := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(path, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, path
}

// tlsEnv serves the store with STARTTLS on plainAddr and implicit TLS on
// tlsAddr, without insecure auth.
func tlsEnv(t *testing.T) (e *env, plainAddr, tlsAddr, certFile string) {
	t.Helper()
	e = newEnv(t)
	cfg, certFile := selfSigned(t, t.TempDir())
	srv := New(Options{Store: e.st, TLS: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Limits: config.Limits{MaxMessageBytes: 1 << 20, AuthFailuresPerMinute: 100}})
	t.Cleanup(func() { srv.Close() })
	l1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l1)
	go srv.ServeTLS(l2)
	return e, l1.Addr().String(), l2.Addr().String(), certFile
}

func TestPythonImaplibOverTLS(t *testing.T) {
	e, plain, tlsAddr, cert := tlsEnv(t)
	alice := e.mailbox("alice@example.com")
	e.deliver(alice, "INBOX", testMessage(1))
	e.deliver(alice, "INBOX", testMessage(2))
	out, err := testkit.Python(t, "imaplib_tls.py", plain, tlsAddr, cert)
	if err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("python imaplib: %v\n%s", err, out)
	}
	f, _ := e.st.GetFolder(t.Context(), alice, "Drafts")
	if f.Messages != 1 {
		t.Fatalf("Drafts has %d messages", f.Messages)
	}
}

func countMaildir(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatalf("maildir %s: %v", dir, err)
		}
		n += len(ents)
	}
	return n
}

// mbsync (isync) syncs a personal folder and a shared mailbox's folder to
// a local maildir, then picks up newly delivered mail.
func TestMbsyncPersonalAndShared(t *testing.T) {
	mbsync, err := exec.LookPath("mbsync")
	if err != nil {
		t.Skip("mbsync not installed (Debian package isync)")
	}
	e, _, tlsAddr, cert := tlsEnv(t)
	alice := e.mailbox("alice@example.com")
	for i := 1; i <= 3; i++ {
		e.deliver(alice, "INBOX", testMessage(i))
	}
	e.deliver(e.info.ID, "INBOX", testMessage(10))
	e.deliver(e.info.ID, "INBOX", testMessage(11))

	dir := t.TempDir()
	_, port, _ := net.SplitHostPort(tlsAddr)
	mail := filepath.Join(dir, "mail")
	conf := fmt.Sprintf(`IMAPAccount bob
Host %s
Port %s
User bob@example.com
Pass "%s"
SSLType IMAPS
CertificateFile %s

IMAPStore remote
Account bob

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel all
Far :remote:
Near :local:
Patterns INBOX "Shared/info@example.com/INBOX"
Create Near
Sync Pull
SyncState *
`, "localhost", port, testPassword, cert, mail, mail)
	// Bob reads his own INBOX (one message) and info@'s INBOX (read right).
	e.deliver(e.mailbox("bob@example.com"), "INBOX", testMessage(20))
	if err := os.MkdirAll(mail, 0o700); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, "mbsyncrc")
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() {
		t.Helper()
		cmd := exec.Command(mbsync, "-c", rc, "-a")
		cmd.Env = append(os.Environ(), "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("mbsync: %v\n%s", err, out)
		}
	}
	run()
	if n := countMaildir(t, filepath.Join(mail, "INBOX")); n != 1 {
		t.Fatalf("personal INBOX synced %d messages", n)
	}
	shared := filepath.Join(mail, "Shared", "info@example.com", "INBOX")
	if n := countMaildir(t, shared); n != 2 {
		t.Fatalf("shared INBOX synced %d messages", n)
	}
	e.deliver(e.info.ID, "INBOX", testMessage(12))
	run()
	if n := countMaildir(t, shared); n != 3 {
		t.Fatalf("second sync: shared INBOX has %d messages", n)
	}
}
