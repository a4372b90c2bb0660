package console

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"mailsrv/internal/testkit"
	"mailsrv/server/admin"
	"mailsrv/store"
)

// oneUser accepts alice@example.com / secret-pw (the login decision is
// tested with the real server in api_test.go; here only sessions matter).
type oneUser struct{}

func (oneUser) Login(_ context.Context, _ net.Addr, u, p string) (Identity, error) {
	if u == "alice@example.com" && p == "secret-pw" {
		return Identity{User: u, Mailbox: u}, nil
	}
	return Identity{}, ErrBadLogin
}

func testAdmin(t *testing.T) *admin.Handler {
	st, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &admin.Handler{Store: st}
}

// A session ends after 30 idle minutes, and 12 hours after login even
// when used all the time.
func TestSessionExpiry(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	c, err := New(Options{Login: oneUser{}, Now: clk.Now, Admin: testAdmin(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	login := func() *http.Cookie {
		resp, err := http.Post(srv.URL+"/api/login", "application/json", strings.NewReader(`{"username":"alice@example.com","password":"secret-pw"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || len(resp.Cookies()) != 1 {
			t.Fatalf("login: %d", resp.StatusCode)
		}
		return resp.Cookies()[0]
	}
	status := func(ck *http.Cookie) int {
		req, _ := http.NewRequest("GET", srv.URL+"/api/password", nil)
		req.AddCookie(ck)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	ck := login()
	clk.Add(29 * time.Minute)
	if st := status(ck); st != 200 {
		t.Fatalf("after 29 idle minutes: %d", st)
	}
	clk.Add(31 * time.Minute)
	if st := status(ck); st != http.StatusUnauthorized {
		t.Fatalf("after 31 idle minutes: %d", st)
	}
	ck = login()
	for i := 0; i < 12*3; i++ { // a request every 20 minutes for 12 hours
		clk.Add(20 * time.Minute)
		if st := status(ck); st != 200 {
			t.Fatalf("active session refused after %v", time.Duration(i+1)*20*time.Minute)
		}
	}
	clk.Add(20 * time.Minute)
	if st := status(ck); st != http.StatusUnauthorized {
		t.Fatalf("session older than 12 h: %d", st)
	}
	if n := len(c.sessions.m); n != 0 {
		t.Fatalf("%d expired sessions kept", n)
	}
	login()
	clk.Add(time.Hour)
	c.Sweep()
	if n := len(c.sessions.m); n != 0 {
		t.Fatalf("%d sessions after sweep", n)
	}
}

// Plain http is served to loopback clients only.
func TestPlainHTTPOnlyFromLoopback(t *testing.T) {
	c, _ := New(Options{Login: oneUser{}, Admin: testAdmin(t)})
	h := c.Handler()
	for addr, want := range map[string]int{"127.0.0.1:5000": 200, "[::1]:5000": 200, "192.0.2.7:5000": 403} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", addr, rec.Code, want)
		}
	}
}
