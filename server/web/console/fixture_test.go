package console_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
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

	"mailsrv/auth"
	"mailsrv/auth/acl"
	"mailsrv/server"
	"mailsrv/server/config"
	"mailsrv/store"
)

// fixture is a running mailsrv (the real server wiring: admin handler,
// store roles, login limiter) with the console on loopback http and
// https, and these accounts, all with password "password-"+local part:
//
//	pm@example.com     role postmaster
//	um@example.com     role users
//	sm@example.com     role shared-mailboxes
//	owner@example.com  no role; owns team@example.com
//	bob@, carol@       no role; bob is a delegate (read) of team@
//	sales@example.com  a shared mailbox without owner
type fixture struct {
	srv     *server.Server
	cfg     *config.Config
	httpURL string
	tlsURL  string
	st      *store.Store
}

var testTLS = &tls.Config{InsecureSkipVerify: true} // the server's self-signed certificate

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cfg := config.Default()
	cfg.Hostname = "mail.example.com"
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.DNS.Resolver = "127.0.0.1:9"
	cfg.Listen = config.Listen{HTTP: "127.0.0.1:0", HTTPS: "127.0.0.1:0", IMAP: "127.0.0.1:0"}
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
		case <-time.After(15 * time.Second):
			t.Error("server did not shut down")
		}
	})
	f := &fixture{srv: s, cfg: cfg, st: s.Store(),
		httpURL: "http://" + s.Addr("http").String(), tlsURL: "https://" + s.Addr("https").String()}
	if err := f.st.AddDomain(ctx, store.Domain{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"pm", "um", "sm", "owner", "bob", "carol"} {
		if _, err := f.st.AddUser(ctx, u+"@example.com", strings.ToUpper(u[:1])+u[1:], testHashes()[u]); err != nil {
			t.Fatal(err)
		}
	}
	for addr, r := range map[string]store.Role{"pm": store.RolePostmaster, "um": store.RoleUsers, "sm": store.RoleSharedMailboxes} {
		if _, err := f.st.GrantRole(ctx, addr+"@example.com", r, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.st.CreateShared(ctx, "team@example.com", "Team", "owner@example.com", "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.CreateShared(ctx, "sales@example.com", "Sales", "", "", 0); err != nil {
		t.Fatal(err)
	}
	team, _ := f.st.MailboxByAddress(ctx, "team@example.com")
	if err := f.st.Grant(ctx, team.ID, "bob@example.com", acl.Read, 0, "test"); err != nil {
		t.Fatal(err)
	}
	return f
}

// testHashes are the fixture users' password hashes, computed once per
// test binary: argon2id costs ~19 MiB and tens of milliseconds each.
var testHashes = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, u := range []string{"pm", "um", "sm", "owner", "bob", "carol"} {
		h, err := auth.HashPassword("password-" + u)
		if err != nil {
			panic(err)
		}
		m[u] = h
	}
	return m
})

// client is one browser-like API client: a cookie jar and the CSRF token
// from its login.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func (f *fixture) client(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: testTLS},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// login logs user (local part) in over plain loopback http.
func (f *fixture) login(t *testing.T, user string) *client {
	t.Helper()
	c := f.client(t, f.httpURL)
	st, body := c.post("/api/login", map[string]string{"username": user + "@example.com", "password": "password-" + user})
	if st != http.StatusOK {
		t.Fatalf("login %s: %d %s", user, st, body)
	}
	var res struct{ CSRF string }
	json.Unmarshal(body, &res)
	c.csrf = res.CSRF
	return c
}

func (c *client) do(req *http.Request) (int, []byte) {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c *client) post(path string, args any) (int, []byte) {
	c.t.Helper()
	raw, _ := json.Marshal(args)
	req, _ := http.NewRequest("POST", c.base+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	return c.do(req)
}

func (c *client) op(op string, args any) (int, []byte) {
	c.t.Helper()
	return c.post("/api/admin/"+op, args)
}

func (c *client) get(path string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	st, b := c.do(req)
	return st, string(b)
}

// errorOf decodes {"error": ...}.
func errorOf(body []byte) string {
	var e struct{ Error string }
	json.Unmarshal(body, &e)
	return e.Error
}
