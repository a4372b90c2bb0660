package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"

	"mailsrv/dns/dnstest"
)

// lockedBuffer collects pebble's log for display when the test fails;
// pebble's goroutines outlive the test, so t.Log cannot be used.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// loopbackDNS serves A 127.0.0.1 for the names the CA validates (over
// TCP, what pebble's VA uses; dnstest answers on UDP and TCP), so it
// validates against listeners on this machine.
func loopbackDNS(t *testing.T) string {
	t.Helper()
	return dnstest.StartZones(t, map[string]string{"test": `
@               IN SOA ns.test. hostmaster.test. 1 60 60 60 60
example         IN A 127.0.0.1
mail.example    IN A 127.0.0.1
mta-sts.example IN A 127.0.0.1
`}).Addr()
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// TestACMEIssuanceWithPebble issues a certificate in-process against
// Let's Encrypt's pebble test CA, used as a library: pebble's VA resolves
// names through a loopback DNS server and fetches the http-01 token from our
// HTTPHandler on a real listener. tls-alpn-01 is pointed at a closed port,
// so this also proves autocert falls back to http-01 when no TLS listener
// is on the CA's tls-alpn port (the usual mail-server setup without :443).
func TestACMEIssuanceWithPebble(t *testing.T) {
	if testing.Short() {
		t.Skip("ACME issuance with pebble skipped in -short mode")
	}
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")

	// Our http listener, bound first so its port can be given to the VA.
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpPort := httpLn.Addr().(*net.TCPAddr).Port

	logs := &lockedBuffer{}
	plog := log.New(logs, "pebble ", log.Lmicroseconds)
	store := db.NewMemoryStore()
	authority := ca.New(plog, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(plog, httpPort, closedPort(t), false, loopbackDNS(t), store)
	front := wfe.New(plog, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	acmeSrv := httptest.NewTLSServer(front.Handler())
	defer acmeSrv.Close()

	cfg := testConfig(t, ModeACME)
	cfg.TLS.ACMEDirectoryURL = acmeSrv.URL + wfe.DirectoryPath
	cfg.TLS.ACMEEmail = "admin@example.test"
	m, err := New(cfg, func() []string { return []string{"example.test"} }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// Trust pebble's WFE test certificate.
	m.acme.Client.HTTPClient = acmeSrv.Client()

	httpSrv := &http.Server{Handler: m.HTTPHandler(http.NotFoundHandler())}
	go httpSrv.Serve(httpLn)
	defer httpSrv.Close()

	// A real handshake on a TLS listener triggers issuance for the SNI name.
	addr := serveTLS(t, m.TLSConfig())
	roots := x509.NewCertPool()
	roots.AddCert(authority.GetRootCert(0).Cert)
	intermediates := x509.NewCertPool()
	intermediates.AddCert(authority.GetIntermediateCert(0).Cert)

	for _, name := range []string{"mail.example.test", "mta-sts.example.test"} {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 60 * time.Second}, "tcp", addr, &tls.Config{
			ServerName: name,
			RootCAs:    roots,
			// Verify ourselves: pebble's chain may not be sent in full.
			InsecureSkipVerify: true,
		})
		if err != nil {
			t.Fatalf("handshake for %s: %v\npebble log:\n%s", name, err, logs)
		}
		leaf := conn.ConnectionState().PeerCertificates[0]
		conn.Close()
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: intermediates}); err != nil {
			t.Fatalf("certificate for %s does not verify against pebble's root: %v\npebble log:\n%s", name, err, logs)
		}
	}

	// The CA reached our http listener for the token (http-01), not only
	// the closed tls-alpn-01 port.
	if !strings.Contains(logs.String(), "Attempting to validate w/ HTTP") {
		t.Errorf("no http-01 validation in pebble log:\n%s", logs)
	}

	// A restart with the CA gone still serves the certificate from the
	// cache in <data_dir>/acme.
	cfg2 := *cfg
	cfg2.TLS.ACMEDirectoryURL = "https://127.0.0.1:1/dir"
	m2, err := New(&cfg2, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	c, err := m2.TLSConfig().GetCertificate(&tls.ClientHelloInfo{
		ServerName:       "", // no SNI: the hostname is assumed
		SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
		CipherSuites:     []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		SupportedCurves:  []tls.CurveID{tls.CurveP256},
	})
	if err != nil {
		t.Fatalf("cached certificate not served after restart: %v", err)
	}
	if err := c.Leaf.VerifyHostname("mail.example.test"); err != nil {
		t.Fatalf("cached certificate: %v", err)
	}
}
