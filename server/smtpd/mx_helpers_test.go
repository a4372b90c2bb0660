package smtpd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"mailsrv/auth/msgauth"
	"mailsrv/dns/dnstest"
	"mailsrv/internal/testkit"
	"mailsrv/server/config"
	"mailsrv/server/metrics"
	"mailsrv/server/tlsconf/testcert"
	"mailsrv/store"
)

// mxEnv is an MX server on 127.0.0.1:0 over a fresh store, with a dnstest
// zone set for the sender domains:
//
//	good.test    SPF allows 127.0.0.1, DKIM key "sel", DMARC p=reject
//	bad.test     SPF denies 127.0.0.1, no DKIM, DMARC p=reject
//	quar.test    SPF denies 127.0.0.1, DMARC p=quarantine
//	nodmarc.test SPF denies 127.0.0.1, no DMARC record
//
// Local: example.com with alice, bob, carol, shared info@, alias sales@ -> alice.
type mxEnv struct {
	st      *store.Store
	srv     *Server
	addr    string
	dns     *dnstest.Server
	metrics *metrics.Metrics
	dkimKey ed25519.PrivateKey
	tls     *tls.Config
	serveCh chan error
}

type envOpt func(*MXOptions)

func newMXEnv(t *testing.T, opts ...envOpt) *mxEnv {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dkimRec := "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	soa := "@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
	d := dnstest.StartZones(t, map[string]string{
		"good.test": soa + `@ IN TXT "v=spf1 ip4:127.0.0.1 -all"
sel._domainkey IN TXT "` + dkimRec + `"
_dmarc IN TXT "v=DMARC1; p=reject"
`,
		"bad.test": soa + `@ IN TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc IN TXT "v=DMARC1; p=reject"
`,
		"quar.test": soa + `@ IN TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc IN TXT "v=DMARC1; p=quarantine"
`,
		"nodmarc.test": soa + `@ IN TXT "v=spf1 ip4:192.0.2.1 -all"
`,
	})

	st, err := store.Open(t.TempDir(), store.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	testkit.Must(t, st.AddDomain(t.Context(), store.Domain{Name: "example.com"}))
	for _, u := range []string{"alice@example.com", "bob@example.com", "carol@example.com"} {
		if _, err := st.AddUser(t.Context(), u, "", "x"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CreateShared(t.Context(), "info@example.com", "Info", "alice@example.com", "", 0); err != nil {
		t.Fatal(err)
	}
	testkit.Must(t, st.AddAlias(t.Context(), "sales@example.com", "alice@example.com"))

	tlsConf := testTLSConfig(t)
	m := metrics.New()
	o := MXOptions{
		Store:    st,
		Hostname: "mx.example.com",
		Limits: config.Limits{
			MaxMessageBytes:     64 << 10,
			MaxRecipients:       5,
			MaxConnectionsPerIP: 200,
		},
		TLS:           tlsConf,
		Verifier:      msgauth.NewVerifier(msgauth.NewResolver(d.Addr()), "mx.example.com"),
		Metrics:       m,
		Log:           testLogger(t),
		ReadTimeout:   10 * time.Second,
		WriteTimeout:  10 * time.Second,
		ShutdownGrace: 2 * time.Second,
	}
	for _, f := range opts {
		f(&o)
	}
	srv := NewMX(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &mxEnv{st: st, srv: srv, addr: ln.Addr().String(), dns: d, metrics: m, dkimKey: priv, tls: tlsConf, serveCh: make(chan error, 1)}
	go func() { e.serveCh <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-e.serveCh; err != nil {
			t.Errorf("Serve returned %v after Shutdown", err)
		}
	})
	return e
}

// testLogger logs to the test log only when -v is given, keeping output
// of failing tests readable.
func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func testTLSConfig(t *testing.T) *tls.Config {
	t.Helper()
	cfg, _ := testcert.New(t, "mx.example.com")
	return cfg
}

// message builds a small RFC 5322 message.
func message(from, to, subject, body string) string {
	return "From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: " + subject +
		"\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\nMessage-ID: <" + subject + "@test>\r\n\r\n" + body
}

// sign DKIM-signs msg for good.test with go-msgauth.
func (e *mxEnv) sign(t *testing.T, msg string) string {
	t.Helper()
	var b bytes.Buffer
	err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{
		Domain: "good.test", Selector: "sel", Signer: e.dkimKey,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// send delivers one message with go-smtp's client; it returns the error
// of the first failing step (an *smtp.SMTPError for server answers).
func (e *mxEnv) send(from string, to []string, msg string) error {
	c, err := smtp.Dial(e.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("client.good.test"); err != nil {
		return err
	}
	if err := testkit.SMTPSend(c, from, to, msg); err != nil {
		return err
	}
	return c.Quit()
}

// stored is one delivered message read back from the store.
type stored struct {
	UID  uint32
	Raw  string
	Size int64
}

// folder reads every message of addr's folder.
func (e *mxEnv) folder(t *testing.T, addr, name string) []stored {
	t.Helper()
	mb, err := e.st.MailboxByAddress(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	f, err := e.st.GetFolder(t.Context(), mb.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	var uids []uint32
	for u := uint32(1); u < f.UIDNext; u++ {
		uids = append(uids, u)
	}
	msgs, err := e.st.Messages(t.Context(), f.ID, uids)
	if err != nil {
		t.Fatal(err)
	}
	var out []stored
	for i := range msgs {
		rc, err := e.st.OpenMessage(t.Context(), &msgs[i])
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, stored{UID: msgs[i].UID, Raw: string(b), Size: msgs[i].Size})
	}
	return out
}

// wantCode asserts err is an SMTP answer with the given codes.
func wantCode(t *testing.T, err error, code int, enh string) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("want %d %s, got %v", code, enh, err)
	}
	got := fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	if se.Code != code || got != enh {
		t.Fatalf("want %d %s, got %d %s %q", code, enh, se.Code, got, se.Message)
	}
}

// header returns the unfolded value of the first field called name.
func header(raw, name string) string {
	hdr, _, _ := strings.Cut(raw, "\r\n\r\n")
	hdr = strings.ReplaceAll(strings.ReplaceAll(hdr, "\r\n\t", " "), "\r\n ", " ")
	for _, l := range strings.Split(hdr, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
