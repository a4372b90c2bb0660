package admin

import (
	"context"
	"fmt"
	"strings"

	"mailsrv/store"
)

// RoleArgs are the arguments of admin.grant and admin.revoke. Role may be
// empty for admin.revoke: every role of Address is taken away.
type RoleArgs struct {
	Address string `json:"address"`
	Role    string `json:"role,omitempty"`
}

// RoleInfo is one line of `admin list`.
type RoleInfo = store.RoleGrant

// actorKey carries who asks (an admin's address over the web console);
// the CLI and the socket act as "admin".
type actorKey struct{}

// WithActor returns ctx marked as a request by addr, whose changes are
// audited under that name instead of "admin".
func WithActor(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, actorKey{}, addr)
}

// actor is the audit name of the caller of ctx.
func actor(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "admin"
}

// roleOps: `mailsrv admin grant|revoke|list` (SPEC §4). Each change is an
// entry of the server audit log (store.ServerAuditID).
func (h *Handler) roleOps() map[string]OpFunc {
	return map[string]OpFunc{
		"admin.grant": op(func(ctx context.Context, a RoleArgs) (any, error) {
			if a.Role == "" {
				return nil, fmt.Errorf("admin grant: a role is required: use one of %s", roleNames())
			}
			r, err := store.ParseRole(a.Role)
			if err != nil {
				return nil, err
			}
			addr, err := store.NormalizeAddress(a.Address)
			if err != nil {
				return nil, err
			}
			changed, err := h.Store.GrantRole(ctx, addr, r, actor(ctx))
			if err != nil {
				return nil, err
			}
			if !changed {
				return Done{Message: fmt.Sprintf("%s already has role %s", addr, r)}, nil
			}
			return Done{Message: fmt.Sprintf("%s now has role %s", addr, r)}, nil
		}),
		"admin.revoke": op(func(ctx context.Context, a RoleArgs) (any, error) {
			var r store.Role
			if a.Role != "" {
				var err error
				if r, err = store.ParseRole(a.Role); err != nil {
					return nil, err
				}
			}
			addr, err := store.NormalizeAddress(a.Address)
			if err != nil {
				return nil, err
			}
			removed, err := h.Store.RevokeRole(ctx, addr, r, actor(ctx))
			if err != nil {
				return nil, err
			}
			names := make([]string, len(removed))
			for i, x := range removed {
				names[i] = string(x)
			}
			return Done{Message: fmt.Sprintf("%s no longer has role %s", addr, strings.Join(names, ", "))}, nil
		}),
		"admin.list": op(func(ctx context.Context, _ struct{}) (any, error) {
			return h.Store.RoleGrants(ctx)
		}),
	}
}

func roleNames() string {
	s := make([]string, len(store.Roles))
	for i, r := range store.Roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}
