package mail

import (
	"net/http"
)

// pageView is what the page template needs; everything else the script
// reads from the API.
type pageView struct {
	Host string
	User string
	CSRF string
	// Compose is whether sending is wired (Options.Sender); MaxBytes is
	// the message size limit the page checks uploads against.
	Compose  bool
	MaxBytes int64
}

// pagePolicy is the console's policy plus the reading frame (same
// origin; the frame's own document carries a stricter policy).
const pagePolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// page serves /mail/ and /mail/{account}/{folder...}: one page whose
// script reads the account and folder from the URL, so every view is
// bookmarkable.
func (m *Mail) page(w http.ResponseWriter, r *http.Request) {
	sess := m.opts.Sessions.Session(r)
	if sess == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", pagePolicy)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if err := m.tmpl.ExecuteTemplate(w, "mail.html", pageView{Host: m.opts.Hostname, User: sess.User, CSRF: sess.CSRF, Compose: m.canSend(), MaxBytes: m.opts.MaxMessageBytes}); err != nil {
		m.log.Error("render webmail page", "err", err)
	}
}
