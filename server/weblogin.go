package server

import (
	"context"
	"errors"
	"fmt"
	"net"

	"mailsrv/auth/login"
	"mailsrv/server/web/console"
	"mailsrv/store"
)

// webLogin adapts the one login decision (auth/login: the credentials,
// delegate rules and throttle of IMAP and submission) to the console.
type webLogin struct{ a *login.Authenticator }

func (l webLogin) Login(ctx context.Context, remote net.Addr, username, password string) (console.Identity, error) {
	id, err := l.a.Login(ctx, login.Request{Username: username, Password: password, Remote: remote})
	switch {
	case err == nil:
		return console.Identity{User: id.User, Mailbox: id.Root.Address}, nil
	case errors.Is(err, login.ErrBadCredentials), errors.Is(err, login.ErrNotAllowed):
		// The client learns only that the login failed, as over IMAP.
		return console.Identity{}, fmt.Errorf("%w (%v)", console.ErrBadLogin, err)
	case errors.Is(err, login.ErrTemporary):
		return console.Identity{}, fmt.Errorf("%w (%v)", console.ErrTryLater, err)
	}
	return console.Identity{}, err
}

// storeRoles reads admin roles from the store for the console.
type storeRoles struct{ st *store.Store }

func (r storeRoles) RolesOf(ctx context.Context, addr string) ([]string, error) {
	rs, err := r.st.RolesOf(ctx, addr)
	out := make([]string, len(rs))
	for i, x := range rs {
		out[i] = string(x)
	}
	return out, err
}
