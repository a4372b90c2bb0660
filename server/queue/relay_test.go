package queue

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smarthost is a submission-like relay: STARTTLS, then AUTH PLAIN with one
// fixed account, before it accepts mail for any domain.
type smarthost struct {
	testMX
	user, pass string
	authOK     int
	authBad    int
}

func (h *smarthost) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if _, ok := c.TLSConnectionState(); ok {
		h.mu.Lock()
		h.tlsConns++
		h.mu.Unlock()
	}
	return &relaySess{mxSess: mxSess{m: &h.testMX}, h: h}, nil
}

type relaySess struct {
	mxSess
	h      *smarthost
	authed bool
}

func (s *relaySess) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *relaySess) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		s.h.mu.Lock()
		defer s.h.mu.Unlock()
		if user != s.h.user || pass != s.h.pass {
			s.h.authBad++
			return errors.New("bad credentials")
		}
		s.h.authOK++
		s.authed = true
		return nil
	}), nil
}
func (s *relaySess) Mail(from string, o *smtp.MailOptions) error {
	if !s.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	return s.mxSess.Mail(from, o)
}

func startSmarthost(t *testing.T, user, pass string) (*smarthost, *tls.Config) {
	t.Helper()
	h := &smarthost{testMX: testMX{attempts: map[string]int{}}, user: user, pass: pass}
	srv := smtp.NewServer(h)
	srv.Domain = "mx.remote.test"
	srv.TLSConfig = selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.port = ln.Addr().(*net.TCPAddr).Port
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	// The client trusts the relay's self-signed certificate and checks
	// its name: with credentials, TLS to the relay is verified.
	leaf, err := x509.ParseCertificate(srv.TLSConfig.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return h, &tls.Config{RootCAs: pool, ServerName: "mx.remote.test", MinVersion: tls.VersionTLS12}
}

// outbound.relay: every remote message goes to the smarthost over verified
// TLS with AUTH, whatever the recipient domain's DNS says (here: nothing).
func TestSmarthostWithAuth(t *testing.T) {
	e := newEnv(t, nil)
	h, clientTLS := startSmarthost(t, "mailsrv@relay.test", "relay secret")
	e.cfg.Relay = net.JoinHostPort("127.0.0.1", strconv.Itoa(h.port))
	e.cfg.RelayUsername, e.cfg.RelayPassword = "mailsrv@relay.test", "relay secret"

	e.enqueue(t, "alice@example.com", "bob@nodns.test", "carol@remote.test")
	r := New(Options{Store: e.st, Hostname: "mail.example.com", Config: e.cfg,
		Resolver: e.dns.Addr(), ClientTLS: clientTLS, Log: quietLog(), Now: e.now})
	r.RunOnce(context.Background())

	got := h.received()
	if len(got) != 1 || strings.Join(got[0].to, ",") != "bob@nodns.test,carol@remote.test" {
		t.Fatalf("smarthost received %+v", got)
	}
	if len(e.mx.received()) != 0 {
		t.Fatal("mail went to the MX despite outbound.relay")
	}
	h.mu.Lock()
	ok, tlsConns := h.authOK, h.tlsConns
	h.mu.Unlock()
	if ok != 1 || tlsConns != 1 {
		t.Fatalf("auth ok %d, TLS sessions %d; want 1 and 1", ok, tlsConns)
	}
	if n := e.queueLen(t); n != 0 {
		t.Fatalf("queue has %d items after relay delivery", n)
	}
}

// Wrong relay credentials are our configuration error, not the recipient's:
// the message stays queued for retry and nobody gets a bounce.
func TestSmarthostBadCredentialsKeepsMessage(t *testing.T) {
	e := newEnv(t, nil)
	h, clientTLS := startSmarthost(t, "mailsrv@relay.test", "relay secret")
	e.cfg.Relay = net.JoinHostPort("127.0.0.1", strconv.Itoa(h.port))
	e.cfg.RelayUsername, e.cfg.RelayPassword = "mailsrv@relay.test", "wrong"
	e.enqueue(t, "alice@example.com", "bob@remote.test")
	r := New(Options{Store: e.st, Hostname: "mail.example.com", Config: e.cfg,
		Resolver: e.dns.Addr(), ClientTLS: clientTLS, Log: quietLog(), Now: e.now})
	r.RunOnce(context.Background())
	if n := e.queueLen(t); n != 1 {
		t.Fatalf("queue has %d items, want the message kept", n)
	}
	if len(h.received()) != 0 || len(e.inbox(t)) != 0 {
		t.Fatal("message delivered or bounced despite failed relay AUTH")
	}
	h.mu.Lock()
	bad := h.authBad
	h.mu.Unlock()
	if bad == 0 {
		t.Fatal("relay never saw the AUTH attempt")
	}
}
