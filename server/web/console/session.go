package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"sync"
	"time"
)

// Session lifetimes: a session ends after idleTimeout without a request,
// and at the latest maxAge after login.
const (
	idleTimeout = 30 * time.Minute
	maxAge      = 12 * time.Hour
	// maxSessions bounds memory; the oldest session is dropped beyond it.
	maxSessions = 10000
)

// CookieName is the session cookie.
const CookieName = "mailsrv_session"

// csrfHeader carries the page's CSRF token on state-changing requests.
const csrfHeader = "X-CSRF-Token"

// Session is one logged-in browser. It is what the webmail (/mail/) will
// build on too: who authenticated (User, whose password was checked) and
// which mailbox they opened (Mailbox: their own address, or the shared
// mailbox of a "user\shared" login, or the shared mailbox itself when it
// logged in with its own password).
type Session struct {
	ID      string
	User    string
	Mailbox string
	CSRF    string
	Created time.Time
	Seen    time.Time
}

// sessions is the in-memory session table. Sessions do not survive a
// restart: a user logs in again, nothing is lost.
type sessions struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*Session
}

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, m: map[string]*Session{}}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session for id.
func (s *sessions) create(id Identity) *Session {
	now := s.now()
	sess := &Session{ID: randomToken(), User: id.User, Mailbox: id.Mailbox, CSRF: randomToken(), Created: now, Seen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSessions {
		s.sweepLocked(now, true)
	}
	s.m[sess.ID] = sess
	return sess
}

// get returns the live session with this id and marks it used; expired
// sessions are removed.
func (s *sessions) get(id string) *Session {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.m[id]
	if sess == nil {
		return nil
	}
	if expired(sess, now) {
		delete(s.m, id)
		return nil
	}
	sess.Seen = now
	cp := *sess
	return &cp
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

func expired(sess *Session, now time.Time) bool {
	return now.Sub(sess.Seen) > idleTimeout || now.Sub(sess.Created) > maxAge
}

// sweepLocked drops expired sessions and, if force, the oldest one.
func (s *sessions) sweepLocked(now time.Time, force bool) {
	var oldest *Session
	for id, sess := range s.m {
		if expired(sess, now) {
			delete(s.m, id)
			continue
		}
		if oldest == nil || sess.Seen.Before(oldest.Seen) {
			oldest = sess
		}
	}
	if force && oldest != nil && len(s.m) >= maxSessions {
		delete(s.m, oldest.ID)
	}
}

// sweep drops expired sessions (housekeeping).
func (s *sessions) sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(s.now(), false)
}

// fromRequest returns the request's session, or nil.
func (s *sessions) fromRequest(r *http.Request) *Session {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	return s.get(c.Value)
}

// csrfOK reports whether the request carries the session's CSRF token.
func csrfOK(r *http.Request, sess *Session) bool {
	tok := r.Header.Get(csrfHeader)
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(sess.CSRF)) == 1
}

// secureRequest is false only for plain http from a loopback client (the
// trial default): there the cookie cannot be Secure or the browser would
// never send it back.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || !loopbackRemote(r)
}

func loopbackRemote(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func setSessionCookie(w http.ResponseWriter, r *http.Request, sess *Session) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: sess.ID, Path: "/", HttpOnly: true,
		Secure: secureRequest(r), SameSite: http.SameSiteStrictMode, MaxAge: int(maxAge / time.Second)})
}

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true,
		Secure: secureRequest(r), SameSite: http.SameSiteStrictMode, MaxAge: -1})
}
