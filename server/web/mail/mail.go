// Package mail is mailsrv's webmail at /mail/ (SPEC §8): the pages, the
// JSON API under /api/mail/ that they use, and live updates as
// Server-Sent Events. It runs inside the web console (server/web/console):
// the console's login, session cookie and CSRF token are the webmail's,
// and the console's guard (https or loopback, security headers,
// same-origin check) applies to every request.
//
// Rights are read from the store at every request (store.RightsOf), as
// IMAP does; an action the member lacks the right for is refused with 403
// and one sentence, and the pages do not offer it. Actions are the same
// store calls IMAP makes (StoreFlags, Move, Expunge with the member as
// actor), so a delegate's action is audited exactly as from IMAP. Search
// is IMAP SEARCH's matcher (server/mailsearch).
//
// # JSON API
//
// Every answer is JSON except where noted; errors are
// {"error": "one sentence"} with a 4xx/5xx status. {account} is a mailbox
// address (the member's own, or a shared mailbox they may read); folder
// names are query parameters because they may contain "/". POST bodies
// are JSON and need the page's X-CSRF-Token header.
//
//	GET  /api/mail/accounts
//	     [{"address","name","shared","unread","rights":{"read","manage","send","send_on_behalf"}}]
//	     the personal mailbox first, then every shared one the user may read.
//	GET  /api/mail/{account}/folders
//	     [{"name","special_use","messages","unread"}], INBOX and the
//	     special-use folders (Drafts, Sent, Junk, Trash, Archive) first.
//	GET  /api/mail/{account}/messages?folder=F&page=N
//	     {"folder","total","page","pages","messages":[summary]}, 50 per
//	     page, newest first (store UID order, cached envelopes: a page
//	     costs the same in a folder of any size). summary is
//	     {"uid","date","from","to","subject","size","seen","flagged","answered"}.
//	GET  /api/mail/{account}/search?folder=F&q=TEXT
//	     the same shape, messages whose From, To, Subject or body contain
//	     TEXT (IMAP's OR FROM/TO/SUBJECT/BODY), newest first, at most 200.
//	GET  /api/mail/{account}/message?folder=F&uid=U
//	     {"uid","date","from","to","cc","reply_to","subject","message_id",
//	     "flags","text","html","attachments":[{"part","filename",
//	     "content_type","size"}],"parse_error"}: "html" is sanitized
//	     (bluemonday) and says whether an HTML body exists; the page shows
//	     it through /html. A message that does not parse comes back with
//	     "parse_error" set and its raw text as "text", never a 500.
//	GET  /api/mail/{account}/html?folder=F&uid=U[&images=1]
//	     text/html: the sanitized HTML body, for a sandboxed iframe; its
//	     Content-Security-Policy allows no script, and remote images only
//	     with images=1.
//	GET  /api/mail/{account}/attachment?folder=F&uid=U&part=P
//	     the attachment's bytes, its Content-Type, Content-Disposition: attachment.
//	GET  /api/mail/{account}/raw?folder=F&uid=U
//	     text/plain: the message source.
//	POST /api/mail/{account}/flags   {"folder","uids":[],"add":[],"remove":[]}
//	     \Seen needs read, other flags manage. Answers {"ok":true}.
//	POST /api/mail/{account}/move    {"folder","uids":[],"to":"Archive"}  (manage)
//	POST /api/mail/{account}/delete  {"folder","uids":[]}  (manage): moves
//	     to Trash, or removes for good when already in Trash.
//	POST /api/mail/{account}/empty-trash  {}  (manage)
//	POST /api/mail/{account}/send  multipart/form-data (see compose.go):
//	     sends through server/submit, or with draft=1 saves to Drafts.
//	     {"ok","message_id","as","draft"}; 403 + the reason when the
//	     member may not send as From, 413 over max_message_bytes, 409
//	     with "stale" when someone else answered first (replying.go).
//	GET  /api/mail/{account}/team, /members, POST /assign, /done: the
//	     team views and actions of a shared mailbox (team.go).
//	POST /api/mail/{account}/replying: "who is replying" (replying.go).
//	GET|POST /api/mail/settings {"assign_mail"}: the user's choice to be
//	     mailed when assigned a message (settings.go).
//	GET  /api/mail/events   text/event-stream of changes to the user's
//	     accounts: events "new", "flags", "expunge", "folders", "rights",
//	     data {"account","folder","uids"}; "assigned" (to the user: data
//	     {"account","folder","uids","subjects","by"}) and "replying"
//	     (replying.go); ids are sequence numbers and a
//	     reconnect with Last-Event-ID gets the events it missed (from a
//	     bounded buffer, else a "reset" event: reload everything).
//
// Pages: GET /mail/ and the bookmarkable GET /mail/{account}/{folder...}.
package mail

import (
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"mailsrv/server/mailsearch"
	"mailsrv/server/submit"
	"mailsrv/server/web/console"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageSize is the message list's page length.
const pageSize = 50

// maxJSONBody bounds action bodies (a list of UIDs).
const maxJSONBody = 1 << 20

// Sessions finds the console session of a request (console.Console).
type Sessions interface {
	Session(r *http.Request) *console.Session
}

// Options configures the webmail.
type Options struct {
	Store    Store
	Sessions Sessions
	// Submit is the sending pipeline SMTP submission uses; nil disables
	// compose (its buttons are not shown, /send answers 501).
	Submit *submit.Submitter
	// Search is the matcher IMAP uses; nil makes one.
	Search *mailsearch.Searcher
	// MaxMessageBytes is limits.max_message_bytes: the largest message
	// compose accepts.
	MaxMessageBytes int64
	// Hostname is shown on the pages.
	Hostname string
	Logger   *slog.Logger
}

// Mail serves the webmail. Create it with New.
type Mail struct {
	opts   Options
	st     Store
	search *mailsearch.Searcher
	log    *slog.Logger
	tmpl   *template.Template
	events *hub
	// presence is who is replying to what (presence.go).
	presence      Presence
	closePresence func()
	// streamsDone ends the open event streams (server shutdown).
	streamsDone chan struct{}
	endOnce     sync.Once
}

// New returns the webmail. Close releases its store subscription.
func New(opts Options) (*Mail, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t, err := template.ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	m := &Mail{opts: opts, st: opts.Store, search: opts.Search, log: log.With("component", "webmail"), tmpl: t}
	if m.search == nil {
		m.search = mailsearch.New(opts.Store)
	}
	m.events = newHub(opts.Store)
	mp := newMemPresence(time.Now, m.events.wakeAll)
	m.presence, m.closePresence = mp, mp.Close
	m.streamsDone = make(chan struct{})
	return m, nil
}

// Close stops following store events and ends the event streams.
func (m *Mail) Close() {
	m.EndStreams()
	m.events.close()
	m.closePresence()
}

// EndStreams ends every open event stream (the HTTP server waits for
// them at shutdown); browsers reconnect to the next server.
func (m *Mail) EndStreams() { m.endOnce.Do(func() { close(m.streamsDone) }) }

// Handler serves /mail/ and /api/mail/.
func (m *Mail) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /mail/static/", http.StripPrefix("/mail/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /mail/{$}", m.page)
	mux.HandleFunc("GET /mail/{account}/{folder...}", m.page)
	mux.HandleFunc("GET /api/mail/accounts", m.api(m.apiAccounts))
	mux.HandleFunc("GET /api/mail/events", m.apiEvents)
	mux.HandleFunc("GET /api/mail/settings", m.api(m.apiSettings))
	mux.HandleFunc("POST /api/mail/settings", m.api(m.apiSettings))
	mux.HandleFunc("GET /api/mail/{account}/folders", m.api(m.apiFolders))
	mux.HandleFunc("GET /api/mail/{account}/messages", m.api(m.apiMessages))
	mux.HandleFunc("GET /api/mail/{account}/search", m.api(m.apiSearch))
	mux.HandleFunc("GET /api/mail/{account}/message", m.api(m.apiMessage))
	mux.HandleFunc("GET /api/mail/{account}/html", m.api(m.apiHTML))
	mux.HandleFunc("GET /api/mail/{account}/attachment", m.api(m.apiAttachment))
	mux.HandleFunc("GET /api/mail/{account}/raw", m.api(m.apiRaw))
	mux.HandleFunc("POST /api/mail/{account}/flags", m.api(m.apiFlags))
	mux.HandleFunc("POST /api/mail/{account}/move", m.api(m.apiMove))
	mux.HandleFunc("POST /api/mail/{account}/delete", m.api(m.apiDelete))
	mux.HandleFunc("POST /api/mail/{account}/empty-trash", m.api(m.apiEmptyTrash))
	mux.HandleFunc("POST /api/mail/{account}/send", m.api(m.apiSend))
	mux.HandleFunc("GET /api/mail/{account}/team", m.api(m.apiTeam))
	mux.HandleFunc("GET /api/mail/{account}/members", m.api(m.apiMembers))
	mux.HandleFunc("POST /api/mail/{account}/assign", m.api(m.apiAssign))
	mux.HandleFunc("POST /api/mail/{account}/done", m.api(m.apiDone))
	mux.HandleFunc("POST /api/mail/{account}/replying", m.api(m.apiReplying))
	mux.HandleFunc("/api/mail/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such webmail API endpoint: see the server/web/mail package documentation")
	})
	return mux
}

// apiError is an answer with a status and one sentence.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, msg string) error { return &apiError{status: status, msg: msg} }

// request is one authenticated API call.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	sess *console.Session
	log  *slog.Logger
}

// api wraps an endpoint: it needs a session, and POSTs need the CSRF
// token. The endpoint returns a value to write as JSON, nil when it wrote
// the answer itself, or an error.
func (m *Mail) api(fn func(q *request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := m.opts.Sessions.Session(r)
		if sess == nil {
			writeError(w, http.StatusUnauthorized, "you are not logged in: log in at / first")
			return
		}
		if r.Method == http.MethodPost && !validCSRF(r, sess) {
			writeError(w, http.StatusForbidden, "missing or wrong CSRF token: reload the page")
			return
		}
		q := &request{w: w, r: r, sess: sess, log: m.log.With("session", sess.ID[:8], "user", sess.User)}
		v, err := fn(q)
		if err != nil {
			var ae *apiError
			if errors.As(err, &ae) {
				writeError(w, ae.status, ae.msg)
				return
			}
			q.log.Error("webmail request", "path", r.URL.Path, "err", err)
			writeError(w, http.StatusInternalServerError, "the server could not do this now; try again in a moment")
			return
		}
		if v != nil {
			writeJSON(w, http.StatusOK, v)
		}
	}
}

func validCSRF(r *http.Request, sess *console.Session) bool {
	tok := r.Header.Get("X-CSRF-Token")
	return tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(sess.CSRF)) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// readBody decodes a JSON POST body strictly into v.
func readBody(q *request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(q.w, q.r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // no body: no arguments
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errorf(http.StatusRequestEntityTooLarge, "request body too large: the limit is 1 MiB")
		}
		return errorf(http.StatusBadRequest, "the request body must be a JSON object of the documented fields: "+strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}
