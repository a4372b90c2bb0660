package console_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"mailsrv/server/admin"
	"mailsrv/store"
)

// opCase is one admin operation with arguments that pass the role check
// but change nothing (a missing target, a too-short password), so every
// role can try every operation on the same fixture.
type opCase struct {
	op   string
	args map[string]any
}

var opCases = []opCase{
	{"domain.add", map[string]any{"name": "not a domain!"}},
	{"domain.list", nil},
	{"domain.remove", map[string]any{"name": "ghost.example"}},
	{"domain.records", map[string]any{"name": "ghost.example"}},
	{"domain.verify", map[string]any{"name": "ghost.example"}},
	{"user.add", map[string]any{"address": "new@example.com", "password": "short"}},
	{"user.list", nil},
	{"user.remove", map[string]any{"address": "ghost@example.com"}},
	{"user.passwd", map[string]any{"address": "ghost@example.com", "password": "short"}},
	{"alias.add", map[string]any{"address": "ghost@example.com", "target": "nobody@elsewhere.example"}},
	{"alias.list", nil},
	{"alias.remove", map[string]any{"address": "ghost@example.com"}},
	{"shared.create", map[string]any{"address": "new@example.com", "password": "short"}},
	{"shared.grant", map[string]any{"address": "team@example.com", "member": "carol@example.com", "rights": "bogus"}},
	{"shared.revoke", map[string]any{"address": "team@example.com", "member": "ghost@example.com"}},
	{"shared.list", nil},
	{"shared.show", map[string]any{"address": "team@example.com"}},
	{"shared.rename", map[string]any{"address": "team@example.com"}},
	{"shared.remove", map[string]any{"address": "ghost@example.com"}},
	{"shared.audit", map[string]any{"address": "team@example.com"}},
	{"mailbox.backup", map[string]any{"source": "ghost@example.com", "to": "team@example.com"}},
	{"mailbox.reassign", map[string]any{"address": "team@example.com", "to": "ghost@example.com"}},
	{"trash.list", nil},
	{"trash.restore", map[string]any{"id": 999}},
	{"trash.purge", map[string]any{"id": 999}},
	{"queue.list", nil},
	{"queue.retry", map[string]any{"id": 999}},
	{"queue.drop", map[string]any{"id": 999}},
	{"admin.grant", map[string]any{"address": "ghost@example.com", "role": "postmaster"}},
	{"admin.revoke", map[string]any{"address": "ghost@example.com"}},
	{"admin.list", nil},
	{"backup", map[string]any{"out": "/tmp/mailsrv-web-test-backup.tar"}},
}

// allowed is the op × role matrix of SPEC §8, written out by hand (not
// derived from the code under test). "owner" is the owner of team@
// without a role; "none" a plain user.
var allowed = map[string][]string{
	"postmaster": {"domain.add", "domain.list", "domain.remove", "domain.records", "domain.verify",
		"user.add", "user.list", "user.remove", "user.passwd", "alias.add", "alias.list", "alias.remove",
		"shared.create", "shared.grant", "shared.revoke", "shared.list", "shared.show", "shared.rename", "shared.remove", "shared.audit",
		"mailbox.backup", "mailbox.reassign", "trash.list", "trash.restore", "trash.purge",
		"queue.list", "queue.retry", "queue.drop", "admin.grant", "admin.revoke", "admin.list"},
	"users": {"user.add", "user.list", "user.remove", "user.passwd", "alias.add", "alias.list", "alias.remove"},
	"shared-mailboxes": {"shared.create", "shared.grant", "shared.revoke", "shared.list", "shared.show", "shared.rename", "shared.remove", "shared.audit",
		"mailbox.backup", "mailbox.reassign", "trash.list"},
	"owner": {"shared.show", "shared.grant", "shared.revoke", "shared.audit"},
	"none":  {},
}

var roleUser = map[string]string{"postmaster": "pm", "users": "um", "shared-mailboxes": "sm", "owner": "owner", "none": "bob"}

// Every operation × every role, through the session cookie and CSRF token
// of a real login: allowed ones reach the operation (its own answer, not
// 403), the others are 403 with a one-sentence error.
func TestOpRoleMatrix(t *testing.T) {
	f := newFixture(t)
	var matrix strings.Builder
	for _, role := range []string{"postmaster", "users", "shared-mailboxes", "owner", "none"} {
		c := f.login(t, roleUser[role])
		fmt.Fprintf(&matrix, "%-17s", role)
		for _, oc := range opCases {
			st, body := c.op(oc.op, oc.args)
			want := false
			for _, a := range allowed[role] {
				want = want || a == oc.op
			}
			if got := st != http.StatusForbidden; got != want {
				t.Errorf("%s %s: status %d %s, want allowed=%v", role, oc.op, st, body, want)
			}
			if st >= 400 && errorOf(body) == "" {
				t.Errorf("%s %s: status %d without {\"error\"}: %s", role, oc.op, st, body)
			}
			if st == http.StatusOK && !json.Valid(body) {
				t.Errorf("%s %s: not JSON: %s", role, oc.op, body)
			}
			mark := "-"
			if st != http.StatusForbidden {
				mark = "A"
			}
			matrix.WriteString(mark)
		}
		matrix.WriteString("\n")
	}
	t.Logf("A = allowed, - = 403; columns:\n%v\n%s", func() []string {
		var n []string
		for _, oc := range opCases {
			n = append(n, oc.op)
		}
		return n
	}(), matrix.String())
}

// The arguments matter for some roles: an owner manages only their own
// shared mailbox, the shared-mailboxes role backs up and reassigns only
// shared mailboxes and restores only shared mailboxes from the recycle bin.
func TestRoleChecksLookAtTheTarget(t *testing.T) {
	f := newFixture(t)
	owner := f.login(t, "owner")
	if st, body := owner.op("shared.grant", map[string]any{"address": "sales@example.com", "member": "carol@example.com", "rights": "read"}); st != http.StatusForbidden {
		t.Fatalf("owner of team granting on sales: %d %s", st, body)
	}
	if st, body := owner.op("shared.grant", map[string]any{"address": "team@example.com", "member": "carol@example.com", "rights": "read,manage"}); st != http.StatusOK {
		t.Fatalf("owner granting on own mailbox: %d %s", st, body)
	}
	sm := f.login(t, "sm")
	if st, body := sm.op("mailbox.reassign", map[string]any{"address": "bob@example.com", "to": "carol@example.com"}); st != http.StatusForbidden {
		t.Fatalf("shared role reassigning a user: %d %s", st, body)
	}
	if st, body := sm.op("mailbox.backup", map[string]any{"source": "bob@example.com", "to": "carol@example.com"}); st != http.StatusForbidden {
		t.Fatalf("shared role backing up user to user: %d %s", st, body)
	}
	// Recycle bin: a removed shared mailbox and a removed user.
	pm := f.login(t, "pm")
	for _, c := range []struct{ op, addr string }{{"shared.remove", "sales@example.com"}, {"user.remove", "carol@example.com"}} {
		if st, body := pm.op(c.op, map[string]any{"address": c.addr}); st != http.StatusOK {
			t.Fatalf("%s: %d %s", c.op, st, body)
		}
	}
	var items []admin.TrashInfo
	st, body := sm.op("trash.list", nil)
	if st != http.StatusOK || json.Unmarshal(body, &items) != nil || len(items) != 2 {
		t.Fatalf("trash.list: %d %s", st, body)
	}
	for _, it := range items {
		st, body := sm.op("trash.restore", map[string]any{"id": it.ID})
		if (it.Kind == "shared") != (st == http.StatusOK) || (it.Kind != "shared" && st != http.StatusForbidden) {
			t.Errorf("restore %s item: %d %s", it.Kind, st, body)
		}
	}
	if st, _ := sm.op("trash.purge", map[string]any{}); st != http.StatusForbidden {
		t.Errorf("shared role purging everything: %d", st)
	}
	// Roles are read at every request: a revoked role is gone at once.
	if st, body := pm.op("admin.revoke", map[string]any{"address": "sm@example.com"}); st != http.StatusOK {
		t.Fatalf("revoke: %d %s", st, body)
	}
	if st, _ := sm.op("shared.list", nil); st != http.StatusForbidden {
		t.Errorf("after revoke, shared.list: %d", st)
	}
}

// The answer is the CLI's --json: the operation's result, indented; a
// change is audited with the admin's address.
func TestSameJSONAsCLIAndAuditedByName(t *testing.T) {
	f := newFixture(t)
	sm := f.login(t, "sm")
	if st, body := sm.op("shared.grant", map[string]any{"address": "team@example.com", "member": "carol@example.com", "rights": "read,manage"}); st != http.StatusOK || !strings.Contains(string(body), `"message": "carol@example.com may now read,manage on team@example.com"`) {
		t.Fatalf("grant: %d %s", st, body)
	}
	st, body := sm.op("shared.show", map[string]any{"address": "team@example.com"})
	h := &admin.Handler{Store: f.st, Config: f.cfg}
	resp := h.Handle(t.Context(), admin.Request{Op: "shared.show", Args: json.RawMessage(`{"address":"team@example.com"}`)})
	var want bytes.Buffer
	json.Indent(&want, resp.Data, "", "  ")
	want.WriteByte('\n')
	if st != http.StatusOK || string(body) != want.String() {
		t.Fatalf("shared.show over HTTP:\n%s\nin-process:\n%s", body, want.String())
	}
	log, _ := f.st.AuditLog(t.Context(), mustMailbox(t, f, "team@example.com").ID, time.Time{})
	if last := log[len(log)-1]; last.Actor != "sm@example.com" || last.Action != "grant" {
		t.Fatalf("audit entry %+v", last)
	}
	if st, body := sm.op("no.such.op", nil); st != http.StatusForbidden && st != http.StatusNotFound {
		t.Fatalf("unknown op: %d %s", st, body)
	}
}

func mustMailbox(t *testing.T, f *fixture, addr string) *store.Mailbox {
	t.Helper()
	mb, err := f.st.MailboxByAddress(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return mb
}

// Browser requests that change state need the CSRF token of the session;
// a cross-site request is refused whatever it carries; scripts may use
// HTTP Basic instead of a session.
func TestCSRFAndBasicAuth(t *testing.T) {
	f := newFixture(t)
	c := f.login(t, "pm")
	tok := c.csrf
	for name, set := range map[string]func(*http.Request){
		"no token":    func(*http.Request) {},
		"wrong token": func(r *http.Request) { r.Header.Set("X-CSRF-Token", tok+"x") },
		"cross-site": func(r *http.Request) {
			r.Header.Set("X-CSRF-Token", tok)
			r.Header.Set("Origin", "https://evil.example")
		},
	} {
		req, _ := http.NewRequest("POST", f.httpURL+"/api/admin/user.add", strings.NewReader(`{"address":"x@example.com","password":"long-enough-pw"}`))
		req.Header.Set("Content-Type", "application/json")
		set(req)
		if st, body := c.do(req); st != http.StatusForbidden || errorOf(body) == "" {
			t.Errorf("%s: %d %s", name, st, body)
		}
	}
	if _, err := f.st.User(t.Context(), "x@example.com"); err == nil {
		t.Fatal("a refused request created the user")
	}
	req, _ := http.NewRequest("POST", f.httpURL+"/api/logout", nil)
	if st, _ := c.do(req); st != http.StatusForbidden {
		t.Errorf("logout without token: %d", st)
	}
	// A form post (not JSON) is refused before anything runs.
	req, _ = http.NewRequest("POST", f.httpURL+"/api/admin/user.add", strings.NewReader("address=x@example.com"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", tok)
	if st, _ := c.do(req); st != http.StatusUnsupportedMediaType {
		t.Errorf("form post: %d", st)
	}
	// HTTP Basic: no session, no token.
	basic := f.client(t, f.tlsURL)
	for pw, want := range map[string]int{"password-pm": http.StatusOK, "wrong": http.StatusUnauthorized} {
		req, _ := http.NewRequest("POST", f.tlsURL+"/api/admin/domain.list", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("pm@example.com", pw)
		if st, body := basic.do(req); st != want {
			t.Errorf("basic with %q: %d %s", pw, st, body)
		}
	}
	// Logout ends the session on the server: the old cookie is dead.
	u, _ := url.Parse(f.httpURL)
	old := c.hc.Jar.Cookies(u)
	if st, _ := c.post("/api/logout", nil); st != http.StatusOK || len(old) != 1 {
		t.Fatalf("logout failed (cookies %v)", old)
	}
	req, _ = http.NewRequest("POST", f.httpURL+"/api/admin/domain.list", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", tok)
	req.AddCookie(old[0])
	if st, _ := (&http.Client{}).Do(req); st == nil || st.StatusCode != http.StatusUnauthorized {
		t.Fatalf("old session after logout: %v", st)
	}
}

// The session cookie is HttpOnly and SameSite=Strict, and Secure except
// over plain http from loopback.
func TestSessionCookieAttributes(t *testing.T) {
	f := newFixture(t)
	for _, base := range []string{f.httpURL, f.tlsURL} {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: testTLS}}
		resp, err := hc.Post(base+"/api/login", "application/json", strings.NewReader(`{"username":"bob@example.com","password":"password-bob"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		raw := resp.Header.Get("Set-Cookie")
		secure := strings.HasPrefix(base, "https")
		if !strings.Contains(raw, "HttpOnly") || !strings.Contains(raw, "SameSite=Strict") || strings.Contains(raw, "Secure") != secure {
			t.Errorf("%s: Set-Cookie %q", base, raw)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("CSP %q", csp)
		}
	}
}

// Login takes addresses and "user\shared" logins, with the IMAP rules:
// a delegate needs the read right.
func TestLoginForms(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, f.httpURL)
	for _, tc := range []struct {
		user, pw string
		status   int
		mailbox  string
	}{
		{"bob@example.com", "password-bob", 200, "bob@example.com"},
		{`bob@example.com\team@example.com`, "password-bob", 200, "team@example.com"},
		{`carol@example.com\team@example.com`, "password-carol", 401, ""}, // not a member
		{"bob@example.com", "wrong", 401, ""},
		{"ghost@example.com", "password-bob", 401, ""},
	} {
		st, body := c.post("/api/login", map[string]string{"username": tc.user, "password": tc.pw})
		var res struct{ Mailbox, Next string }
		json.Unmarshal(body, &res)
		if st != tc.status || res.Mailbox != tc.mailbox {
			t.Errorf("login %s: %d %s", tc.user, st, body)
		}
	}
	st, body := c.post("/api/login", map[string]string{"username": "pm@example.com", "password": "password-pm"})
	if st != 200 || !strings.Contains(string(body), `"next": "/admin/"`) {
		t.Errorf("postmaster login: %s", body)
	}
}

// Web logins go through the one login decision of IMAP (auth/login) and
// its throttle: a failed web login makes the next IMAP login of that
// account from that network wait (1 s after one failure), and a failed
// IMAP login makes the next web login wait the same way.
func TestLoginThrottleSharedWithIMAP(t *testing.T) {
	f := newFixture(t)
	c := f.client(t, f.httpURL)
	imapLogin := func(pw string) (time.Duration, error) {
		ic, err := imapclient.DialStartTLS(f.srv.Addr("imap").String(), &imapclient.Options{TLSConfig: testTLS})
		if err != nil {
			t.Fatal(err)
		}
		defer ic.Close()
		start := time.Now()
		err = ic.Login("carol@example.com", pw).Wait()
		return time.Since(start), err
	}
	d0, err := imapLogin("password-carol")
	if err != nil {
		t.Fatalf("control: IMAP login: %v", err)
	}
	t.Logf("control: an unthrottled IMAP login took %v", d0)
	// The throttle waits 1 s from the failure, which the server records
	// before it answers; so the wait is measured from the start of the
	// failed attempt (a lower bound that holds on a loaded machine too).
	failStart := time.Now()
	if st, _ := c.post("/api/login", map[string]string{"username": "carol@example.com", "password": "wrong"}); st != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", st)
	}
	if _, err := imapLogin("password-carol"); err != nil || time.Since(failStart) < time.Second {
		t.Fatalf("IMAP login after a failed web login ended %v after the failure began (err %v), want the throttle's 1 s", time.Since(failStart), err)
	}
	failStart = time.Now()
	if _, err := imapLogin("wrong"); err == nil {
		t.Fatal("wrong IMAP password accepted")
	}
	if st, body := c.post("/api/login", map[string]string{"username": "carol@example.com", "password": "password-carol"}); st != http.StatusOK {
		t.Fatalf("web login: %d %s", st, body)
	}
	if d := time.Since(failStart); d < time.Second {
		t.Fatalf("web login after a failed IMAP login ended %v after the failure began, want the throttle's 1 s", d)
	}
}

// Bodies over 1 MiB are refused with 413, whether announced (10 MB) or
// streamed without a length.
func TestBodyLimit(t *testing.T) {
	f := newFixture(t)
	c := f.login(t, "pm")
	big := bytes.Repeat([]byte("a"), 10<<20)
	body := append(append([]byte(`{"address":"x@example.com","name":"`), big...), '"', '}')
	req, _ := http.NewRequest("POST", f.httpURL+"/api/admin/user.add", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	if st, resp := c.do(req); st != http.StatusRequestEntityTooLarge || !strings.Contains(errorOf(resp), "too large") {
		t.Fatalf("10 MB body: %d %s", st, resp)
	}
	req, _ = http.NewRequest("POST", f.httpURL+"/api/admin/user.add", struct{ *bytes.Reader }{bytes.NewReader(body[:2<<20])})
	req.ContentLength = -1 // chunked
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	if st, resp := c.do(req); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MiB chunked body: %d %s", st, resp)
	}
	if st, _ := c.op("domain.list", nil); st != http.StatusOK {
		t.Fatal("server unhappy after big bodies")
	}
}

// The console is https-only except for loopback clients; non-console
// paths (autoconfig) still work on the same listeners.
func TestAutoconfigStillServed(t *testing.T) {
	f := newFixture(t)
	resp, err := http.Get(f.httpURL + "/mail/config-v1.1.xml?emailaddress=bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "xml") {
		t.Fatalf("autoconfig: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
