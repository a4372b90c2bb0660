package store

import (
	"context"
	"strings"

	"mailsrv/store/kv"
)

// MemberPrefs are a user's own choices about the team features, kept in
// bucket "prefs" under the user's address (absent = the defaults). The
// webmail sets them (POST /api/mail/settings).
type MemberPrefs struct {
	// AssignMail: mail me when someone assigns me a message of a shared
	// mailbox (server/autoreply sends it). Off by default: the webmail
	// tells the assignee live anyway.
	AssignMail bool `json:"assign_mail,omitempty"`
}

// Prefs returns user's preferences (the defaults when none were set).
func (s *Store) Prefs(ctx context.Context, user string) (MemberPrefs, error) {
	var p MemberPrefs
	err := s.view(ctx, func(tx kv.Tx) error {
		_, err := getJSON(bucket(tx, "prefs"), []byte(strings.ToLower(user)), &p)
		return err
	})
	return p, err
}

// SetPrefs replaces user's preferences.
func (s *Store) SetPrefs(ctx context.Context, user string, p MemberPrefs) error {
	return s.update(ctx, func(t *Tx) error {
		if bucket(t.tx, "accounts").Get([]byte(strings.ToLower(user))) == nil {
			return errorf(ErrNotFound, "no user %s", user)
		}
		return putJSON(bucket(t.tx, "prefs"), []byte(strings.ToLower(user)), p)
	})
}
