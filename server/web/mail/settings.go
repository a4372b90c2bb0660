package mail

import (
	"errors"
	"net/http"

	"mailsrv/store"
)

// The user's own settings of the team features:
//
//	GET  /api/mail/settings   {"assign_mail": bool}
//	POST /api/mail/settings   {"assign_mail": bool}
//
// assign_mail: also mail me (from the shared address) when someone
// assigns me a message of a shared mailbox; the webmail tells me live in
// any case (server/autoreply sends the mail).

// Settings is the answer of /settings.
type Settings struct {
	AssignMail bool `json:"assign_mail"`
}

func (m *Mail) apiSettings(q *request) (any, error) {
	if q.r.Method == http.MethodPost {
		var s Settings
		if err := readBody(q, &s); err != nil {
			return nil, err
		}
		p, err := m.st.Prefs(q.r.Context(), q.sess.User)
		if err != nil {
			return nil, err
		}
		p.AssignMail = s.AssignMail
		if err := m.st.SetPrefs(q.r.Context(), q.sess.User, p); err != nil {
			return nil, notFoundAsConflict(err)
		}
	}
	p, err := m.st.Prefs(q.r.Context(), q.sess.User)
	if err != nil {
		return nil, err
	}
	return Settings{AssignMail: p.AssignMail}, nil
}

// notFoundAsConflict: a login without a user account of its own (a
// shared mailbox logged in with its password) has no settings.
func notFoundAsConflict(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusConflict, "only a user's own login has settings: log in with your own address")
	}
	return err
}
