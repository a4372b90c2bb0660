package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"

	"mailsrv/auth"
	"mailsrv/server/admin"
)

// writeJSON writes v indented as the CLI's --json prints it.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// writeError answers {"error": "one sentence"}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// readJSON reads the request body (bounded by guard) into raw JSON. It
// answers the client itself and returns false on a bad request.
func readJSON(w http.ResponseWriter, r *http.Request) (json.RawMessage, bool) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "send the arguments as JSON with Content-Type: application/json")
		return nil, false
	}
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, "request body too large: the limit is 1 MiB")
		return nil, false
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "could not read the request body")
		return nil, false
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || string(body) == "null" {
		body = []byte("{}")
	}
	if !json.Valid(body) || body[0] != '{' {
		writeError(w, http.StatusBadRequest, "the request body must be a JSON object")
		return nil, false
	}
	return body, true
}

type loginArgs struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LoginResult is the answer to POST /api/login.
type LoginResult struct {
	User    string `json:"user"`
	Mailbox string `json:"mailbox"`
	Admin   bool   `json:"admin"`
	Next    string `json:"next"` // where the login page goes: /admin/ or /mail/
	CSRF    string `json:"csrf"`
}

func remoteAddr(r *http.Request) net.Addr {
	a, err := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	if err != nil {
		return &net.TCPAddr{}
	}
	return a
}

// login runs the Authenticator and maps its errors to statuses.
func (c *Console) login(w http.ResponseWriter, r *http.Request, user, pw string) (Identity, bool) {
	id, err := c.opts.Login.Login(r.Context(), remoteAddr(r), user, pw)
	switch {
	case err == nil:
		return id, true
	case errors.Is(err, ErrTryLater):
		writeError(w, http.StatusTooManyRequests, ErrTryLater.Error())
	case errors.Is(err, ErrBadLogin):
		c.log.Info("web login failed", "remote", r.RemoteAddr, "user", user, "reason", err)
		writeError(w, http.StatusUnauthorized, ErrBadLogin.Error())
	default:
		c.log.Error("login", "remote", r.RemoteAddr, "err", err)
		writeError(w, http.StatusInternalServerError, "the login could not be checked: try again, and see the server log if it persists")
	}
	return Identity{}, false
}

func (c *Console) apiLogin(w http.ResponseWriter, r *http.Request) {
	raw, ok := readJSON(w, r)
	if !ok {
		return
	}
	var a loginArgs
	if err := json.Unmarshal(raw, &a); err != nil || a.Username == "" || a.Password == "" {
		writeError(w, http.StatusBadRequest, `give "username" and "password"`)
		return
	}
	id, ok := c.login(w, r, a.Username, a.Password)
	if !ok {
		return
	}
	sess := c.sessions.create(id)
	setSessionCookie(w, r, sess)
	res := LoginResult{User: id.User, Mailbox: id.Mailbox, Next: "/mail/", CSRF: sess.CSRF}
	if c.mayOpenConsole(r.Context(), c.caller(r.Context(), id.User)) {
		res.Admin, res.Next = true, "/admin/"
	}
	c.log.Info("web login", "user", id.User, "mailbox", id.Mailbox, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, res)
}

func (c *Console) apiLogout(w http.ResponseWriter, r *http.Request) {
	sess := c.sessions.fromRequest(r)
	if sess != nil {
		if !csrfOK(r, sess) {
			writeError(w, http.StatusForbidden, "missing or wrong CSRF token: reload the page")
			return
		}
		c.sessions.remove(sess.ID)
	}
	clearSessionCookie(w, r)
	writeJSON(w, http.StatusOK, admin.Done{Message: "logged out"})
}

// authenticate finds who makes an API request: HTTP Basic (scripts; no
// CSRF token needed, the browser never sends it on its own since we never
// ask for it) or the session cookie plus the page's CSRF token.
func (c *Console) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	if user, pw, ok := r.BasicAuth(); ok {
		id, ok := c.login(w, r, user, pw)
		return id.User, ok
	}
	sess := c.sessions.fromRequest(r)
	if sess == nil {
		writeError(w, http.StatusUnauthorized, "not logged in: POST /api/login first, or use HTTP Basic authentication")
		return "", false
	}
	if r.Method != http.MethodGet && !csrfOK(r, sess) {
		writeError(w, http.StatusForbidden, "missing or wrong CSRF token: reload the page")
		return "", false
	}
	return sess.User, true
}

// caller reads user's roles from the store now.
func (c *Console) caller(ctx context.Context, user string) caller {
	cl := caller{User: user}
	if c.opts.Roles != nil {
		roles, err := c.opts.Roles.RolesOf(ctx, user)
		if err != nil {
			c.log.Error("reading admin roles", "user", user, "err", err)
		}
		cl.Roles = roles
	}
	return cl
}

// mayOpenConsole: an admin, or the owner of a shared mailbox.
func (c *Console) mayOpenConsole(ctx context.Context, cl caller) bool {
	return cl.isAdmin() || len(c.policy.ownedBy(ctx, cl.User)) > 0
}

func (c *Console) apiAdmin(w http.ResponseWriter, r *http.Request) {
	user, ok := c.authenticate(w, r)
	if !ok {
		return
	}
	raw, ok := readJSON(w, r)
	if !ok {
		return
	}
	op := r.PathValue("op")
	status, body := c.run(r.Context(), c.caller(r.Context(), user), op, raw)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(body)
}

// run checks the policy and dispatches op for cl, returning the HTTP
// status and the JSON body. Every change is logged with the admin's
// address; shared mailbox changes are also in that mailbox's audit log
// under the admin's address (admin.WithActor).
func (c *Console) run(ctx context.Context, cl caller, op string, args json.RawMessage) (int, []byte) {
	if err := c.policy.allow(ctx, cl, op, args); err != nil {
		c.log.Warn("admin request refused", "admin", cl.User, "op", op, "reason", err)
		return http.StatusForbidden, errorBody(strings.TrimPrefix(err.Error(), "forbidden: "))
	}
	resp := c.opts.Admin.Handle(admin.WithActor(ctx, cl.User), admin.Request{Op: op, Args: args})
	if !readOnly(op) {
		c.log.Info("admin change", "admin", cl.User, "op", op, "target", firstTarget(args), "ok", resp.Error == "", "error", resp.Error)
	}
	if resp.Error != "" {
		return errorStatus(resp.Error), errorBody(resp.Error)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, resp.Data, "", "  "); err != nil {
		return http.StatusInternalServerError, errorBody("the result could not be encoded")
	}
	out.WriteByte('\n')
	return http.StatusOK, out.Bytes()
}

func errorBody(msg string) []byte {
	b, _ := json.MarshalIndent(map[string]string{"error": msg}, "", "  ")
	return append(b, '\n')
}

// errorStatus picks a status for an operation's one-sentence error.
func errorStatus(msg string) int {
	m := strings.ToLower(msg)
	switch {
	case strings.HasPrefix(m, "unknown admin operation"):
		return http.StatusNotFound
	case strings.HasPrefix(m, "internal error"):
		return http.StatusInternalServerError
	case strings.Contains(m, "not found") || strings.HasPrefix(m, "no "):
		return http.StatusNotFound
	case strings.Contains(m, "already"):
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// firstTarget names what a change is about, for the log (never a password).
func firstTarget(args json.RawMessage) string {
	for _, k := range []string{"address", "name", "source"} {
		if s := argString(args, k); s != "" {
			return s
		}
	}
	if id := argUint(args, "id"); id != 0 {
		return "item " + jsonNumber(id)
	}
	return ""
}

func jsonNumber(n uint64) string { b, _ := json.Marshal(n); return string(b) }

// apiPassword returns a generated password (the CLI's generator) for the
// "Generate" button of the user and shared mailbox forms.
func (c *Console) apiPassword(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.authenticate(w, r); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"password": auth.GeneratePassword()})
}
