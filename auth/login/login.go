// Package login owns the one login decision of mailsrv (issue 15 #1): who a
// user name and password are, which mailbox the session opens at, and
// whether the attempt may run at all (auth.Throttle). IMAP, submission and
// the web login call Login, so they cannot drift apart again in the forms
// of delegate login they accept, in the rights a delegate login needs, in
// how failures are counted, or in what a store error means.
//
// The forms of a delegate login (SPEC §6.2), all equivalent:
//
//   - user name "alice@x\info@x" (IMAP LOGIN, SASL LOGIN, SASL PLAIN);
//   - SASL PLAIN with authzid "info@x" and authcid "alice@x";
//   - SASL PLAIN with authzid equal to the whole "alice@x\info@x" login,
//     which is what mbsync sends.
//
// A delegate login needs the read right on the shared mailbox (acl.OpList):
// the mailbox becomes the session's root, and a member who cannot see it
// has nothing to open. Sending as it is checked per message on top.
package login

import (
	"context"
	"errors"
	"fmt"
	"net"

	"mailsrv/auth"
	"mailsrv/auth/acl"
	"mailsrv/store"
)

// Store is what Login reads; *store.Store satisfies it.
type Store interface {
	User(ctx context.Context, addr string) (*store.Account, error)
	Mailbox(ctx context.Context, id uint64) (*store.Mailbox, error)
	MailboxByAddress(ctx context.Context, addr string) (*store.Mailbox, error)
	RightsOf(ctx context.Context, mbid uint64, user string) (acl.Rights, error)
}

// The three outcomes other than success. Errors returned by Login wrap one
// of them (errors.Is) with the reason for the log; the reason is not meant
// for the client, which must not learn whether a name exists.
var (
	// ErrBadCredentials: unknown name or wrong password; counts as a
	// failure for the throttle. IMAP: NO [AUTHENTICATIONFAILED]; SMTP: 535.
	ErrBadCredentials = errors.New("login: bad credentials")
	// ErrTemporary: the store failed or the throttle asks the client to
	// come back later; nothing was decided. IMAP: NO [UNAVAILABLE]; SMTP: 454.
	ErrTemporary = errors.New("login: temporary failure")
	// ErrNotAllowed: the password was right but the login asks for a
	// mailbox the user may not open. IMAP: NO [AUTHORIZATIONFAILED]; SMTP: 535.
	ErrNotAllowed = errors.New("login: not allowed")
)

// Request is one login attempt.
type Request struct {
	// Authzid is the SASL authorization identity ("" for IMAP LOGIN and
	// SASL LOGIN).
	Authzid, Username, Password string
	// Remote is the client's address (throttle key).
	Remote net.Addr
}

// Identity is who a successful login is.
type Identity struct {
	// User is the normalised address whose password was checked: the
	// subject of rights checks and the actor in audit entries. It is a
	// shared mailbox's address when that mailbox logs in with its own
	// password (SPEC §6.3).
	User string
	// UserMailboxID is User's own mailbox.
	UserMailboxID uint64
	// Root is the mailbox the session opens at: User's own, or the shared
	// mailbox of a delegate login.
	Root *store.Mailbox
	// Delegate is true when Root is a shared mailbox reached with User's
	// rights (not owned by User).
	Delegate bool
}

// Authenticator makes the decision. One is shared by every protocol.
type Authenticator struct {
	st        Store
	passwords *auth.Verifier
	throttle  *auth.Throttle
}

// New returns an Authenticator; passwords and throttle are shared with
// nothing else than other Authenticators' users (nil builds defaults).
func New(st Store, passwords *auth.Verifier, throttle *auth.Throttle) *Authenticator {
	if passwords == nil {
		passwords = auth.NewVerifier(auth.DefaultVerifyCacheTTL, nil)
	}
	if throttle == nil {
		throttle = auth.NewThrottle(0, nil, nil)
	}
	return &Authenticator{st: st, passwords: passwords, throttle: throttle}
}

// Passwords is the shared Verifier (its Checks count real argon2id runs).
func (a *Authenticator) Passwords() *auth.Verifier { return a.passwords }

// Login decides one attempt. The throttle may delay it (bounded by ctx and
// auth.MaxThrottleWait) before any password is checked.
func (a *Authenticator) Login(ctx context.Context, r Request) (*Identity, error) {
	name, actAs, rerr := auth.ResolveIdentity(r.Authzid, r.Username)
	user, nerr := store.NormalizeAddress(name)
	if nerr != nil {
		user = "" // malformed names share one throttle key per network
	}
	att, err := a.throttle.Begin(ctx, r.Remote, user)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTemporary, err)
	}
	id, err := a.decide(ctx, user, actAs, r.Password, errors.Join(rerr, nerr))
	switch {
	case errors.Is(err, ErrTemporary):
		att.Cancel() // nothing was decided: neither a failure nor a success
	default:
		// Only a wrong name or password is a failure; a correct password
		// that asks for a forbidden mailbox is not a guess.
		att.Done(err == nil || errors.Is(err, ErrNotAllowed))
	}
	return id, err
}

func (a *Authenticator) decide(ctx context.Context, user, actAs, password string, nameErr error) (*Identity, error) {
	if nameErr != nil {
		a.passwords.Dummy(password)
		return nil, fmt.Errorf("%w: %v", ErrBadCredentials, nameErr)
	}
	id, err := a.checkPassword(ctx, user, password)
	if err != nil {
		return nil, err
	}
	if actAs == "" {
		return id, nil
	}
	target, err := store.NormalizeAddress(actAs)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed mailbox %q in delegate login", ErrNotAllowed, actAs)
	}
	if target == id.User {
		return id, nil
	}
	if id.Root.Kind == store.MailboxShared {
		return nil, fmt.Errorf("%w: shared mailbox %s cannot log in as %s", ErrNotAllowed, id.User, target)
	}
	mb, err := a.st.MailboxByAddress(ctx, target)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("%w: no shared mailbox %s", ErrNotAllowed, target)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrTemporary, err)
	case mb.Kind != store.MailboxShared || mb.Deleted != nil:
		return nil, fmt.Errorf("%w: no shared mailbox %s", ErrNotAllowed, target)
	}
	rights, err := a.st.RightsOf(ctx, mb.ID, id.User)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTemporary, err)
	}
	if !acl.Allows(rights, acl.OpList) {
		return nil, fmt.Errorf("%w: %s has no read right on %s", ErrNotAllowed, id.User, target)
	}
	id.Root, id.Delegate = mb, true
	return id, nil
}

// checkPassword verifies the password of a personal account, or of a
// shared mailbox with its own password (SPEC §6.3). Unknown names cost a
// dummy verification, so timing does not tell them apart.
func (a *Authenticator) checkPassword(ctx context.Context, user, password string) (*Identity, error) {
	acct, err := a.st.User(ctx, user)
	if err == nil {
		if !a.passwords.Verify(acct.PasswordHash, password) {
			return nil, fmt.Errorf("%w: wrong password for %s", ErrBadCredentials, user)
		}
		mb, err := a.st.Mailbox(ctx, acct.MailboxID)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrTemporary, err)
		}
		return &Identity{User: acct.Address, UserMailboxID: acct.MailboxID, Root: mb}, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		a.passwords.Dummy(password)
		return nil, fmt.Errorf("%w: %v", ErrTemporary, err)
	}
	mb, err := a.st.MailboxByAddress(ctx, user)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.passwords.Dummy(password)
		return nil, fmt.Errorf("%w: %v", ErrTemporary, err)
	}
	if err != nil || mb.Kind != store.MailboxShared || mb.Deleted != nil || mb.PasswordHash == "" {
		a.passwords.Dummy(password)
		return nil, fmt.Errorf("%w: no account %s", ErrBadCredentials, user)
	}
	if !a.passwords.Verify(mb.PasswordHash, password) {
		return nil, fmt.Errorf("%w: wrong password for %s", ErrBadCredentials, user)
	}
	return &Identity{User: mb.Address, UserMailboxID: mb.ID, Root: mb}, nil
}
