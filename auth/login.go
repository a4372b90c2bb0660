package auth

import (
	"errors"
	"strings"
)

// ParseLogin splits a login name of the Exchange delegate form
// "alice@example.com\info@example.com" (SPEC §6.2) into the user who
// authenticates ("alice@example.com", whose password is checked) and the
// mailbox to act as ("info@example.com"). Without a backslash, actAs is "".
// It splits at the first backslash and does not normalise case: account
// lookup is store/'s job.
func ParseLogin(username string) (user, actAs string) {
	user, actAs, _ = strings.Cut(username, `\`)
	return user, actAs
}

// ErrIdentityConflict is returned by ResolveIdentity when a SASL
// authorization identity and a delegate login name ask for different
// mailboxes.
var ErrIdentityConflict = errors.New(`auth: authorization identity and "user\mailbox" login name disagree`)

// ResolveIdentity combines the two ways a member asks to act as a shared
// mailbox: the SASL PLAIN authorization identity (authzid) and the
// "user\mailbox" login name. It returns whose password to check (user) and
// the mailbox to act as (actAs; "" for the user's own account). The
// authzid may be a mailbox ("info@…"), the user ("alice@…", her own
// account) or a whole delegate login ("alice@…\info@…", what mbsync sends
// when the user name has that form); in the last case its user part must be
// the authenticating user. Names are compared case-insensitively here; the
// caller normalises them as account lookup does and compares again. Whether
// user may act as actAs is the caller's decision (rights from store/).
func ResolveIdentity(authzid, username string) (user, actAs string, err error) {
	user, actAs = ParseLogin(username)
	if user == "" {
		return "", "", errors.New("auth: empty user name")
	}
	if authzid != "" && !strings.EqualFold(authzid, username) {
		zuser, zact := ParseLogin(authzid)
		want := zuser
		if strings.Contains(authzid, `\`) {
			if !strings.EqualFold(zuser, user) {
				return "", "", ErrIdentityConflict
			}
			want = zact
		}
		if actAs != "" && !strings.EqualFold(actAs, want) {
			return "", "", ErrIdentityConflict
		}
		actAs = want
	}
	if strings.EqualFold(actAs, user) {
		actAs = ""
	}
	return user, actAs, nil
}
