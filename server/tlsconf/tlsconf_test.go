package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailsrv/server/config"
)

func testConfig(t *testing.T, mode string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Hostname = "mail.example.test"
	cfg.DataDir = t.TempDir()
	cfg.TLS.Mode = mode
	return cfg
}

// serveTLS runs a TLS listener on 127.0.0.1:0 that completes handshakes
// with conf and closes; it returns the address.
func serveTLS(t *testing.T, conf *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	return ln.Addr().String()
}

// peerSerial handshakes with addr (no verification: we inspect what is
// served) and returns the leaf's serial number.
func peerSerial(t *testing.T, addr, serverName string) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

func writePair(t *testing.T, certPath, keyPath, host string) string {
	t.Helper()
	certPEM, keyPEM, err := GenerateSelfSigned(host, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf.SerialNumber.String()
}

func TestSelfSignedGeneratedOnceAndReused(t *testing.T) {
	cfg := testConfig(t, ModeSelfSigned)
	m1, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m1.Close()
	keyPath := filepath.Join(cfg.DataDir, "tls", "selfsigned.key")
	fi, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode = %v, want 0600", fi.Mode().Perm())
	}

	leaf := m1.cert.Load().Leaf
	if leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key algorithm = %v, want ECDSA", leaf.PublicKeyAlgorithm)
	}
	for _, name := range []string{"mail.example.test", "localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("certificate does not cover %s: %v", name, err)
		}
	}

	// A real handshake serves it.
	addr := serveTLS(t, m1.TLSConfig())
	s1 := peerSerial(t, addr, "mail.example.test")

	m2, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if s2 := m2.cert.Load().Leaf.SerialNumber.String(); s2 != s1 {
		t.Fatalf("second start generated a new certificate: serial %s, first %s", s2, s1)
	}

	// A hostname change regenerates (the kept one would not verify).
	cfg.Hostname = "other.example.test"
	m3, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m3.Close()
	if s3 := m3.cert.Load().Leaf.SerialNumber.String(); s3 == s1 {
		t.Fatal("hostname change kept the old certificate")
	}
}

func TestSelfSignedCorruptFilesAreReplaced(t *testing.T) {
	cfg := testConfig(t, ModeSelfSigned)
	dir := filepath.Join(cfg.DataDir, "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "selfsigned.crt"), []byte("garbage"), 0o644)
	os.WriteFile(filepath.Join(dir, "selfsigned.key"), []byte("garbage"), 0o600)
	m, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.cert.Load().Leaf.VerifyHostname("mail.example.test") != nil {
		t.Fatal("regenerated certificate does not cover hostname")
	}
}

func TestFilesModeReload(t *testing.T) {
	cfg := testConfig(t, ModeFiles)
	cfg.TLS.CertFile = filepath.Join(cfg.DataDir, "cert.pem")
	cfg.TLS.KeyFile = filepath.Join(cfg.DataDir, "key.pem")
	serialA := writePair(t, cfg.TLS.CertFile, cfg.TLS.KeyFile, "mail.example.test")

	// Poll interval of an hour: only the explicit Reload may switch.
	m, err := newManager(cfg, nil, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	addr := serveTLS(t, m.TLSConfig())
	if got := peerSerial(t, addr, "mail.example.test"); got != serialA {
		t.Fatalf("served serial %s, want A %s", got, serialA)
	}

	serialB := writePair(t, cfg.TLS.CertFile, cfg.TLS.KeyFile, "mail.example.test")
	if got := peerSerial(t, addr, "mail.example.test"); got != serialA {
		t.Fatalf("certificate changed before Reload: %s", got)
	}
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := peerSerial(t, addr, "mail.example.test"); got != serialB {
		t.Fatalf("after Reload served serial %s, want B %s", got, serialB)
	}

	// A broken key makes Reload fail and keeps serving B.
	if err := os.WriteFile(cfg.TLS.KeyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.Reload(); err == nil {
		t.Fatal("Reload accepted a broken key")
	}
	if got := peerSerial(t, addr, "mail.example.test"); got != serialB {
		t.Fatalf("after failed Reload served serial %s, want B %s", got, serialB)
	}
}

func TestFilesModeWatcherPicksUpChange(t *testing.T) {
	cfg := testConfig(t, ModeFiles)
	cfg.TLS.CertFile = filepath.Join(cfg.DataDir, "cert.pem")
	cfg.TLS.KeyFile = filepath.Join(cfg.DataDir, "key.pem")
	writePair(t, cfg.TLS.CertFile, cfg.TLS.KeyFile, "mail.example.test")
	m, err := newManager(cfg, nil, nil, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	addr := serveTLS(t, m.TLSConfig())

	serialB := writePair(t, cfg.TLS.CertFile, cfg.TLS.KeyFile, "mail.example.test")
	deadline := time.Now().Add(5 * time.Second)
	for peerSerial(t, addr, "mail.example.test") != serialB {
		if time.Now().After(deadline) {
			t.Fatal("watcher did not reload the changed certificate within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.Close()
	m.Close() // idempotent
}

func TestNewErrors(t *testing.T) {
	cfg := testConfig(t, "bogus")
	if _, err := New(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown mode: err = %v", err)
	}
	cfg = testConfig(t, ModeFiles)
	if _, err := New(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "cert_file") {
		t.Errorf("files without paths: err = %v", err)
	}
	cfg.TLS.CertFile = filepath.Join(cfg.DataDir, "missing.pem")
	cfg.TLS.KeyFile = filepath.Join(cfg.DataDir, "missing.key")
	if _, err := New(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("files missing: err = %v", err)
	}
	cfg = testConfig(t, ModeSelfSigned)
	cfg.Hostname = ""
	if _, err := New(cfg, nil, nil); err == nil {
		t.Error("empty hostname accepted")
	}
	if _, err := New(nil, nil, nil); err == nil {
		t.Error("nil config accepted")
	}
}

func TestACMEHostPolicy(t *testing.T) {
	domains := []string{"example.com"}
	cfg := testConfig(t, ModeACME)
	cfg.Hostname = "Mail.Example.COM."
	m, err := New(cfg, func() []string { return domains }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	allowed := []string{"mail.example.com", "autoconfig.example.com", "MTA-STS.example.com"}
	denied := []string{"example.com", "www.example.com", "autoconfig.example.org", "mta-sts.example.org", "evil.test", ""}
	for _, h := range allowed {
		if err := m.hostPolicy(t.Context(), h); err != nil {
			t.Errorf("%q refused: %v", h, err)
		}
	}
	for _, h := range denied {
		if err := m.hostPolicy(t.Context(), h); err == nil {
			t.Errorf("%q allowed", h)
		}
	}
	// The domain list is read at call time: a domain added while running
	// is allowed without a restart.
	domains = append(domains, "example.org")
	if err := m.hostPolicy(t.Context(), "mta-sts.example.org"); err != nil {
		t.Errorf("newly added domain refused: %v", err)
	}
	// Refused names never reach the CA: the handshake fails at once even
	// though the directory URL points nowhere.
	if _, err := m.TLSConfig().GetCertificate(&tls.ClientHelloInfo{ServerName: "evil.test"}); err == nil {
		t.Error("certificate for a refused host")
	}
}

func TestHTTPHandler(t *testing.T) {
	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fallback") })
	get := func(h http.Handler, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "http://mail.example.test"+path, nil))
		return rec.Code, rec.Body.String()
	}

	ss, err := New(testConfig(t, ModeSelfSigned), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	if code, body := get(ss.HTTPHandler(fallback), "/.well-known/acme-challenge/x"); code != 200 || body != "fallback" {
		t.Errorf("self-signed: challenge path got %d %q, want fallback", code, body)
	}

	am, err := New(testConfig(t, ModeACME), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer am.Close()
	h := am.HTTPHandler(fallback)
	if code, body := get(h, "/mail/config-v1.1.xml"); code != 200 || body != "fallback" {
		t.Errorf("acme: normal path got %d %q, want fallback", code, body)
	}
	// Unknown token: autocert answers (404), the fallback is not consulted.
	if code, body := get(h, "/.well-known/acme-challenge/unknown-token"); code != 404 || body == "fallback" {
		t.Errorf("acme: unknown challenge token got %d %q, want autocert's 404", code, body)
	}
}
