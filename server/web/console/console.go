// Package console owns mailsrv's browser surface on the https listener
// (SPEC §8): the login page at /, the admin console at /admin/, the JSON
// admin API at POST /api/admin/{op} with /api/login and /api/logout, and
// the session, CSRF and security-header groundwork the webmail at /mail/
// builds on.
//
// It implements no admin operation itself: every operation, whether a
// page shows its result or a script posts it, runs through the same
// Dispatcher as the admin socket and the CLI (server/admin.Handler), with
// the same JSON in and out. What this package adds is who may ask: a
// caller is authenticated (session cookie or HTTP Basic, through the same
// login decision and throttle as IMAP, auth/login), their roles are read from
// the store for every request, and policy decides per operation.
//
// Pages are html/template files and a little vanilla JavaScript, all
// embedded with go:embed; the Content-Security-Policy allows scripts and
// styles from this origin only, and no inline code.
package console

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"mailsrv/server/admin"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// maxBody bounds every request body: admin arguments are a few hundred
// bytes; larger bodies are refused with 413 before they are read.
const maxBody = 1 << 20

// Dispatcher runs one admin operation: server/admin.Handler, the same one
// behind the admin socket.
type Dispatcher interface {
	Handle(ctx context.Context, req admin.Request) admin.Response
}

// Identity is the result of a successful login.
type Identity struct {
	// User is whose password was checked (for a "user\shared" login, the
	// member; for a shared mailbox with its own password, its address).
	User string
	// Mailbox is the address of the mailbox the login opens: User's own,
	// or the shared mailbox of a "user\shared" login.
	Mailbox string
}

// Authenticator decides a login: the same credentials, throttle and
// rights as IMAP (auth/login). remote is the client's address.
type Authenticator interface {
	Login(ctx context.Context, remote net.Addr, username, password string) (Identity, error)
}

// Login errors an Authenticator returns (wrapped); others are internal
// (500). Their text is what the client is told.
var (
	ErrBadLogin = errors.New("wrong user name or password")
	ErrTryLater = errors.New("the login cannot be checked now (too many failed attempts from your network, or the server is busy): wait a minute and try again")
)

// Roles reads a user's admin roles from the store, at every request.
type Roles interface {
	RolesOf(ctx context.Context, addr string) ([]string, error)
}

// Options configures a Console.
type Options struct {
	Admin Dispatcher
	Login Authenticator
	Roles Roles
	// Hostname is shown on the pages (which server this is).
	Hostname string
	// Now is the clock (sessions expire by it); nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Console serves the pages and the API. Create it with New.
type Console struct {
	opts     Options
	log      *slog.Logger
	sessions *sessions
	policy   *policy
	pages    *pages
	mail     http.Handler // the webmail (server/web/mail), or nil
}

// New returns a Console.
func New(opts Options) (*Console, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pg, err := loadPages()
	if err != nil {
		return nil, err
	}
	return &Console{opts: opts, log: log.With("component", "console"), sessions: newSessions(opts.Now),
		policy: &policy{admin: opts.Admin}, pages: pg}, nil
}

// Session returns the logged-in session of r, or nil (for /mail/ later).
func (c *Console) Session(r *http.Request) *Session { return c.sessions.fromRequest(r) }

// MountMail makes h (server/web/mail) serve /mail/ and /api/mail/ under
// the console's guard, instead of the placeholder page. Call it before
// Handler. h limits its own request bodies (a message with attachments
// is larger than the console's 1 MiB).
func (c *Console) MountMail(h http.Handler) { c.mail = h }

// Sweep drops expired sessions; the server calls it periodically.
func (c *Console) Sweep() { c.sessions.sweep() }

// Handler returns the handler for /, /admin/, /mail/, /api/ and /static/.
// On plain http it answers only loopback clients (the trial default);
// everywhere else the console is https only, so no password crosses the
// network in clear.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("POST /api/login", c.apiLogin)
	mux.HandleFunc("POST /api/logout", c.apiLogout)
	mux.HandleFunc("POST /api/admin/{op}", c.apiAdmin)
	mux.HandleFunc("GET /api/password", c.apiPassword)
	if c.mail != nil {
		mux.Handle("/mail/", c.mail)
		mux.Handle("/api/mail/", c.mail)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: the admin API is POST /api/admin/{op}")
	})
	c.pageRoutes(mux)
	return c.guard(mux)
}

// guard applies what every console response needs: https (or loopback
// http), security headers, the body limit and a same-origin check on
// state-changing requests.
func (c *Console) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil && !loopbackRemote(r) {
			http.Error(w, "the web console is served over https only", http.StatusForbidden)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		// The webmail bounds its own bodies (a message with attachments).
		if c.mail == nil || !strings.HasPrefix(r.URL.Path, "/api/mail/") {
			if r.ContentLength > maxBody {
				writeError(w, http.StatusRequestEntityTooLarge, "request body too large: the limit is 1 MiB")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !sameOrigin(r) {
			writeError(w, http.StatusForbidden, "cross-origin request refused")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin is false when the browser says the request comes from
// another site (Origin or Sec-Fetch-Site); non-browser clients send
// neither.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	scheme := "https://"
	if r.TLS == nil {
		scheme = "http://"
	}
	return o == scheme+r.Host
}
