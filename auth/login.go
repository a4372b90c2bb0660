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
// the mailbox to act as (actAs; "" for the user's own account). An authzid
// equal to the user means the user's own account. Whether user may act as
// actAs is the caller's decision (rights from store/, checked with auth/acl).
func ResolveIdentity(authzid, username string) (user, actAs string, err error) {
	user, actAs = ParseLogin(username)
	if user == "" {
		return "", "", errors.New("auth: empty user name")
	}
	if authzid != "" {
		if actAs != "" && !strings.EqualFold(actAs, authzid) {
			return "", "", ErrIdentityConflict
		}
		actAs = authzid
	}
	if strings.EqualFold(actAs, user) {
		actAs = ""
	}
	return user, actAs, nil
}
