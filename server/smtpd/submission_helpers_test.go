package smtpd

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailsrv/auth"
	"mailsrv/auth/acl"
	"mailsrv/auth/login"
	"mailsrv/auth/msgauth"
	"mailsrv/internal/testkit"
	"mailsrv/server/config"
	"mailsrv/server/tlsconf/testcert"
	"mailsrv/store"
)

// subEnv is a store with example.com (ed25519 + RSA DKIM keys), users
// alice and bob, an alias of alice, shared mailboxes with each right for
// alice, and a running submission server with STARTTLS.
type subEnv struct {
	st     *store.Store
	srv    *Server
	addr   string
	clock  *testkit.Clock
	authn  *login.Authenticator
	woken  atomic.Int32
	keys   map[string]string // selector → DNS TXT record
	shared map[string]*store.Mailbox
}

const subPassword = "correct horse battery staple"

func newSubEnv(t testing.TB) *subEnv {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{Logger: subQuietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &subEnv{st: st, keys: map[string]string{}, shared: map[string]*store.Mailbox{}}
	d := store.Domain{Name: "example.com"}
	for _, algo := range []string{msgauth.AlgEd25519, msgauth.AlgRSA} {
		kp, err := msgauth.GenerateKey(algo)
		testkit.Must(t, err)
		sel := "s-" + algo
		d.DKIM = append(d.DKIM, store.DKIMKey{Selector: sel, Algorithm: algo, PrivateKeyPEM: string(kp.PrivateKeyPEM), PublicKey: kp.PublicKey})
		e.keys[sel] = msgauth.DNSRecord(kp.PublicKey, algo)
	}
	testkit.Must(t, st.AddDomain(t.Context(), d))
	hash, err := auth.HashPassword(subPassword)
	testkit.Must(t, err)
	for _, u := range []string{"alice@example.com", "bob@example.com"} {
		_, err := st.AddUser(t.Context(), u, "", hash)
		testkit.Must(t, err)
	}
	testkit.Must(t, st.AddAlias(t.Context(), "al@example.com", "alice@example.com"))
	for name, rights := range map[string]acl.Rights{
		"send": acl.Send | acl.Read, "obo": acl.SendOnBehalf | acl.Read, "read": acl.Read, "none": 0,
	} {
		mb, err := st.CreateShared(t.Context(), "info-"+name+"@example.com", "Info "+name, "", "", 0)
		testkit.Must(t, err)
		if rights != 0 {
			testkit.Must(t, st.Grant(t.Context(), mb.ID, "alice@example.com", rights, 0, "admin"))
		}
		e.shared[name] = mb
	}
	e.clock = testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e.authn = login.New(st, nil, auth.NewThrottle(10, e.clock.Now, e.clock.Sleep))
	e.srv = NewSubmission(SubmissionOptions{
		Store: st, Hostname: "mail.example.com",
		Limits: config.Limits{MaxMessageBytes: 1 << 20, MaxRecipients: 10},
		TLS:    subTLSConfig(t),
		Login:  e.authn,
		Log:    subQuietLog(),
		Wake:   func() { e.woken.Add(1) },
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testkit.Must(t, err)
	e.addr = ln.Addr().String()
	go e.srv.Serve(ln)
	t.Cleanup(func() { e.srv.Shutdown(t.Context()) })
	return e
}

func subQuietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// subTLSConfig is a self-signed certificate for mail.example.com.
func subTLSConfig(t testing.TB) *tls.Config {
	t.Helper()
	cfg, _ := testcert.New(t, "mail.example.com")
	return cfg
}

// login connects with STARTTLS and authenticates with PLAIN.
func (e *subEnv) login(t *testing.T, authzid, user string) *smtp.Client {
	t.Helper()
	c, err := smtp.DialStartTLS(e.addr, &tls.Config{InsecureSkipVerify: true})
	testkit.Must(t, err)
	t.Cleanup(func() { c.Close() })
	testkit.Must(t, c.Auth(sasl.NewPlainClient(authzid, user, subPassword)))
	return c
}

func subMessage(from, to, subject string, extra ...string) string {
	h := "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\n"
	for _, x := range extra {
		h += x + "\r\n"
	}
	return h + "\r\nHello,\r\nthis is a test.\r\n"
}

// subFolder returns the messages of a folder of the mailbox at addr.
func (e *subEnv) folder(t *testing.T, mbid uint64, name string) []string {
	t.Helper()
	f, err := e.st.GetFolder(t.Context(), mbid, name)
	testkit.Must(t, err)
	flags, err := e.st.FolderFlags(t.Context(), f.ID)
	testkit.Must(t, err)
	var uids []uint32
	for _, x := range flags {
		uids = append(uids, x.UID)
	}
	msgs, err := e.st.Messages(t.Context(), f.ID, uids)
	testkit.Must(t, err)
	var out []string
	for i := range msgs {
		rc, err := e.st.OpenMessage(t.Context(), &msgs[i])
		testkit.Must(t, err)
		b, _ := io.ReadAll(rc)
		rc.Close()
		out = append(out, string(b))
	}
	return out
}

func (e *subEnv) mailboxOf(t testing.TB, addr string) uint64 {
	t.Helper()
	mb, err := e.st.MailboxByAddress(t.Context(), addr)
	testkit.Must(t, err)
	return mb.ID
}

// subWantCode fails unless err is an SMTP error with code and, when
// contains is not "", a message containing it.
func subWantCode(t *testing.T, err error, code int, contains string) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want SMTP %d", err, code)
	}
	if se.Code != code || !strings.Contains(se.Message, contains) {
		t.Fatalf("got %d %v %q, want %d containing %q", se.Code, se.EnhancedCode, se.Message, code, contains)
	}
}
