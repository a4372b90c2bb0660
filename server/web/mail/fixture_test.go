package mail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailsrv/auth"
	"mailsrv/auth/acl"
	"mailsrv/auth/msgauth"
	"mailsrv/server"
	"mailsrv/server/config"
	"mailsrv/store"
)

// fixture is a running mailsrv (the real wiring: console, webmail, MX)
// on loopback with these accounts, password "password-"+local part:
//
//	alice@example.com  member of info@ with read,manage,send
//	bob@example.com    member of info@ with read only
//	carol@example.com  no rights on info@
//	info@example.com   a shared mailbox
type fixture struct {
	srv     *server.Server
	cfg     *config.Config
	httpURL string
	st      *store.Store
}

var users = []string{"alice", "bob", "carol"}

func newFixture(t *testing.T, tweak ...func(*config.Config)) *fixture {
	t.Helper()
	f := startServer(t, tweak...)
	if err := f.st.AddDomain(t.Context(), store.Domain{Name: "example.com", DKIM: testDKIM().keys}); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if _, err := f.st.AddUser(t.Context(), u+"@example.com", strings.ToUpper(u[:1])+u[1:], testHashes()[u]); err != nil {
			t.Fatal(err)
		}
	}
	info, err := f.st.CreateShared(t.Context(), "info@example.com", "Info", "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.Grant(t.Context(), info.ID, "alice@example.com", acl.Read|acl.Manage|acl.Send, 0, "test"); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Grant(t.Context(), info.ID, "bob@example.com", acl.Read, 0, "test"); err != nil {
		t.Fatal(err)
	}
	return f
}

// testDKIM are example.com's signing keys (ed25519 and RSA, as `domain
// add` makes them) and their DNS TXT records by selector, made once.
// startServer runs mailsrv on loopback over cfg's data directory.
func startServer(t *testing.T, tweak ...func(*config.Config)) *fixture {
	t.Helper()
	cfg := config.Default()
	cfg.Hostname = "mail.example.com"
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.DNS.Resolver = "127.0.0.1:9"
	cfg.Listen = config.Listen{HTTP: "127.0.0.1:0", SMTP: "127.0.0.1:0"}
	for _, fn := range tweak {
		fn(cfg)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	s, err := server.New(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("server did not shut down")
		}
	})
	return &fixture{srv: s, cfg: cfg, st: s.Store(), httpURL: "http://" + s.Addr("http").String()}
}

var testDKIM = sync.OnceValue(func() struct {
	keys    []store.DKIMKey
	records map[string]string
} {
	out := struct {
		keys    []store.DKIMKey
		records map[string]string
	}{records: map[string]string{}}
	for _, algo := range []string{msgauth.AlgEd25519, msgauth.AlgRSA} {
		kp, err := msgauth.GenerateKey(algo)
		if err != nil {
			panic(err)
		}
		sel := "s-" + algo
		out.keys = append(out.keys, store.DKIMKey{Selector: sel, Algorithm: algo, PrivateKeyPEM: string(kp.PrivateKeyPEM), PublicKey: kp.PublicKey})
		out.records[sel] = msgauth.DNSRecord(kp.PublicKey, algo)
	}
	return out
})

var testHashes = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, u := range users {
		h, err := auth.HashPassword("password-" + u)
		if err != nil {
			panic(err)
		}
		m[u] = h
	}
	return m
})

// deliver stores raw in addr's folder through store.Deliver.
func (f *fixture) deliver(t *testing.T, addr, folder, raw string) uint32 {
	t.Helper()
	mb, err := f.st.MailboxByAddress(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	w, err := f.st.NewBlob(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, raw)
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	d, err := f.st.Deliver(t.Context(), store.Delivery{Blob: w, Targets: []store.Target{{MailboxID: mb.ID, Folder: folder}}})
	if err != nil {
		t.Fatal(err)
	}
	return d[0].UID
}

// sendMX delivers raw to rcpt through the MX listener (a real SMTP session).
func (f *fixture) sendMX(t *testing.T, from, rcpt, raw string) {
	t.Helper()
	c, err := smtp.Dial(f.srv.Addr("smtp").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("mx.remote.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail(from, []string{rcpt}, strings.NewReader(raw)); err != nil {
		t.Fatalf("MX delivery: %v", err)
	}
	c.Quit()
}

func msg(from, to, subject, body string) string {
	return fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\nMessage-ID: <%d@remote.example>\r\n\r\n%s\r\n",
		from, to, subject, time.Now().UnixNano(), body)
}

// client is one logged-in browser: a cookie jar and the CSRF token.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func (f *fixture) login(t *testing.T, user string) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{t: t, base: f.httpURL, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	st, body := c.post("/api/login", map[string]string{"username": user + "@example.com", "password": "password-" + user})
	if st != http.StatusOK {
		t.Fatalf("login %s: %d %s", user, st, body)
	}
	var res struct{ CSRF string }
	json.Unmarshal(body, &res)
	c.csrf = res.CSRF
	return c
}

func (c *client) do(req *http.Request) (*http.Response, []byte) {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (c *client) post(path string, args any) (int, []byte) {
	c.t.Helper()
	raw, _ := json.Marshal(args)
	req, _ := http.NewRequest("POST", c.base+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, b := c.do(req)
	return resp.StatusCode, b
}

func (c *client) get(path string) (*http.Response, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	return c.do(req)
}

// getJSON GETs path, wants 200 and decodes the answer into out.
func (c *client) getJSON(path string, out any) {
	c.t.Helper()
	resp, b := c.get(path)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		c.t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

func errorOf(body []byte) string {
	var e struct{ Error string }
	json.Unmarshal(body, &e)
	return e.Error
}
