package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"mailsrv/server/admin"
)

// pages holds the parsed templates, one set per page (each page file
// defines "content" inside base.html's layout).
type pages struct {
	t map[string]*template.Template
}

var pageNames = []string{"login", "mail", "domains", "users", "shared", "shared_detail", "audit", "trash", "queue", "admins"}

func loadPages() (*pages, error) {
	p := &pages{t: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/base.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		p.t[name] = t
	}
	return p, nil
}

var funcs = template.FuncMap{
	"size": func(b int64) string {
		switch {
		case b >= 1<<30:
			return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
		case b >= 1<<20:
			return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
		case b >= 1<<10:
			return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
		}
		return fmt.Sprintf("%d B", b)
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"preset": presetLabel,
	"join":   strings.Join,
}

// navItem is one section of the console menu.
type navItem struct {
	Path, Label string
	Active      bool
}

// view is what every page template gets.
type view struct {
	Title    string
	Host     string
	User     string
	CSRF     string
	Nav      []navItem
	Error    string // the page's data could not be loaded
	Data     any
	LoggedIn bool
}

// sections lists the console sections the caller may open, in menu order.
func (c *Console) sections(ctx context.Context, cl caller) []navItem {
	var out []navItem
	add := func(ok bool, path, label string) {
		if ok {
			out = append(out, navItem{Path: path, Label: label})
		}
	}
	pm, sh := cl.has(RolePostmaster), cl.has(RoleShared)
	add(pm, "/admin/domains", "Domains")
	add(pm || cl.has(RoleUsers), "/admin/users", "Users")
	add(pm || sh || len(c.policy.ownedBy(ctx, cl.User)) > 0, "/admin/shared", "Shared mailboxes")
	add(pm || sh, "/admin/trash", "Recycle bin")
	add(pm, "/admin/queue", "Queue")
	add(pm, "/admin/admins", "Admins")
	return out
}

func (c *Console) render(w http.ResponseWriter, status int, name string, v view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := c.pages.t[name].ExecuteTemplate(w, "base", v); err != nil {
		c.log.Error("render page", "page", name, "err", err)
	}
}

// adminPage wraps a console section: it needs a session and the right to
// open that section, and renders the template with what load returns.
func (c *Console) adminPage(section, name, title string, load func(r *http.Request, cl caller) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := c.sessions.fromRequest(r)
		if sess == nil {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		cl := c.caller(r.Context(), sess.User)
		nav := c.sections(r.Context(), cl)
		i := slices.IndexFunc(nav, func(n navItem) bool { return n.Path == section })
		v := view{Title: title, Host: c.opts.Hostname, User: sess.User, CSRF: sess.CSRF, Nav: nav, LoggedIn: true}
		if i < 0 {
			v.Title, v.Error = "Not allowed", "Your admin roles do not include this section."
			c.render(w, http.StatusForbidden, "mail", v)
			return
		}
		nav[i].Active = true
		data, err := load(r, cl)
		status := http.StatusOK
		if err != nil {
			v.Error = err.Error()
			var pe *pageError
			if errors.As(err, &pe) && pe.status != http.StatusBadRequest {
				status = pe.status
			}
			if data == nil {
				// Nothing to show: the error alone, on the plain layout.
				c.render(w, status, "mail", v)
				return
			}
		}
		v.Data = data
		c.render(w, status, name, v)
	}
}

// pageError is an operation's error with its HTTP status.
type pageError struct {
	status int
	msg    string
}

func (e *pageError) Error() string { return e.msg }

// get runs a read operation for a page, through the same policy and
// dispatcher as the API, and decodes its result.
func (c *Console) get(ctx context.Context, cl caller, op string, args any, out any) error {
	raw, _ := json.Marshal(args)
	status, body := c.run(ctx, cl, op, raw)
	if status != http.StatusOK {
		var e struct{ Error string }
		json.Unmarshal(body, &e)
		return &pageError{status: status, msg: e.Error}
	}
	return json.Unmarshal(body, out)
}

func (c *Console) pageRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", c.loginPage)
	if c.mail == nil {
		mux.HandleFunc("GET /mail/", c.mailPage)
	}
	mux.HandleFunc("GET /admin/{$}", func(w http.ResponseWriter, r *http.Request) {
		sess := c.sessions.fromRequest(r)
		if sess == nil {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		nav := c.sections(r.Context(), c.caller(r.Context(), sess.User))
		if len(nav) == 0 {
			http.Redirect(w, r, "/mail/", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, nav[0].Path, http.StatusSeeOther)
	})
	mux.HandleFunc("GET /admin/domains", c.adminPage("/admin/domains", "domains", "Domains", c.loadDomains))
	mux.HandleFunc("GET /admin/users", c.adminPage("/admin/users", "users", "Users", c.loadUsers))
	mux.HandleFunc("GET /admin/shared", c.adminPage("/admin/shared", "shared", "Shared mailboxes", c.loadShared))
	mux.HandleFunc("GET /admin/shared/{addr}", c.adminPage("/admin/shared", "shared_detail", "Shared mailbox", c.loadSharedDetail))
	mux.HandleFunc("GET /admin/shared/{addr}/audit", c.adminPage("/admin/shared", "audit", "Audit log", c.loadAudit))
	mux.HandleFunc("GET /admin/trash", c.adminPage("/admin/trash", "trash", "Recycle bin", c.loadTrash))
	mux.HandleFunc("GET /admin/queue", c.adminPage("/admin/queue", "queue", "Queue", c.loadQueue))
	mux.HandleFunc("GET /admin/admins", c.adminPage("/admin/admins", "admins", "Admins", c.loadAdmins))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 page not found", http.StatusNotFound)
	})
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if sess := c.sessions.fromRequest(r); sess != nil {
		next := "/mail/"
		if c.mayOpenConsole(r.Context(), c.caller(r.Context(), sess.User)) {
			next = "/admin/"
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	c.render(w, http.StatusOK, "login", view{Title: "Log in", Host: c.opts.Hostname})
}

// mailPage is the webmail's place; until it is built it says so.
func (c *Console) mailPage(w http.ResponseWriter, r *http.Request) {
	sess := c.sessions.fromRequest(r)
	if sess == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	cl := c.caller(r.Context(), sess.User)
	v := view{Title: "Mail", Host: c.opts.Hostname, User: sess.User, CSRF: sess.CSRF, LoggedIn: true,
		Nav: c.sections(r.Context(), cl), Data: sess}
	c.render(w, http.StatusOK, "mail", v)
}

// --- section data ---

type domainView struct {
	admin.DomainInfo
	Records []recordView
	Err     string
}

type recordView struct {
	Name    string `json:"name"`
	TTL     uint32 `json:"ttl"`
	Type    string `json:"type"`
	Value   string `json:"value"`
	Comment string `json:"comment"`
}

func (c *Console) loadDomains(r *http.Request, cl caller) (any, error) {
	var ds []admin.DomainInfo
	if err := c.get(r.Context(), cl, "domain.list", struct{}{}, &ds); err != nil {
		return nil, err
	}
	out := []domainView{}
	for _, d := range ds {
		dv := domainView{DomainInfo: d}
		if err := c.get(r.Context(), cl, "domain.records", map[string]string{"name": d.Name}, &dv.Records); err != nil {
			dv.Err = err.Error()
		}
		out = append(out, dv)
	}
	return out, nil
}

type usersView struct {
	Users   []admin.UserInfo
	Aliases []admin.AliasInfo
}

func (c *Console) loadUsers(r *http.Request, cl caller) (any, error) {
	var v usersView
	if err := c.get(r.Context(), cl, "user.list", struct{}{}, &v.Users); err != nil {
		return v, err
	}
	return v, c.get(r.Context(), cl, "alias.list", struct{}{}, &v.Aliases)
}

type sharedListView struct {
	Mailboxes []admin.SharedInfo
	CanCreate bool
}

func (c *Console) loadShared(r *http.Request, cl caller) (any, error) {
	v := sharedListView{CanCreate: c.policy.allow(r.Context(), cl, "shared.create", nil) == nil}
	if c.policy.allow(r.Context(), cl, "shared.list", nil) == nil {
		return v, c.get(r.Context(), cl, "shared.list", struct{}{}, &v.Mailboxes)
	}
	v.Mailboxes = c.policy.ownedBy(r.Context(), cl.User)
	return v, nil
}
