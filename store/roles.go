package store

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"mailsrv/store/kv"
)

// Role is an administrative role (SPEC §4, §8): what a user may administer
// beyond their own mailbox. Roles are held by users (accounts) only.
type Role string

// The roles SPEC §4 names; nothing else is a role.
const (
	RolePostmaster      Role = "postmaster"       // everything; receives postmaster@ and abuse@
	RoleUsers           Role = "users"            // users and aliases
	RoleSharedMailboxes Role = "shared-mailboxes" // shared mailboxes, delegates, backup/reassign, recycle bin, audit
)

// Roles lists every role in the order they are shown.
var Roles = []Role{RolePostmaster, RoleUsers, RoleSharedMailboxes}

// ServerAuditID is the audit log key of server-wide changes (admin roles),
// which belong to no mailbox. Mailbox ids start at 1.
const ServerAuditID uint64 = 0

// ParseRole checks s against the roles SPEC §4 defines.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range Roles {
		if r == k {
			return r, nil
		}
	}
	names := make([]string, len(Roles))
	for i, k := range Roles {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown role %q: use one of %s", s, strings.Join(names, ", "))
}

// RoleGrant is one role held by one user.
type RoleGrant struct {
	Address string    `json:"address"`
	Role    Role      `json:"role"`
	Granted time.Time `json:"granted"`
	By      string    `json:"by,omitempty"`
}

// roles bucket: address ++ 0x00 ++ role → JSON RoleGrant.
func roleKey(addr string, r Role) []byte { return []byte(addr + "\x00" + string(r)) }

// errNoUser is the one sentence for an address that is not a user.
func errNoUser(a string) error {
	return errorf(ErrNotFound, "user %s: not found (see `mailsrv user list`)", a)
}

// GrantRole gives user addr the role r. It reports false when addr held it
// already (nothing changes then, and nothing is audited).
func (s *Store) GrantRole(ctx context.Context, addr string, r Role, actor string) (bool, error) {
	a, err := NormalizeAddress(addr)
	if err != nil {
		return false, err
	}
	if _, err := ParseRole(string(r)); err != nil {
		return false, err
	}
	changed := false
	err = s.update(ctx, func(t *Tx) error {
		changed = false
		if bucket(t.tx, "accounts").Get([]byte(a)) == nil {
			return errNoUser(a)
		}
		b := bucket(t.tx, "roles")
		if b.Get(roleKey(a, r)) != nil {
			return nil
		}
		changed = true
		t.Audit(ServerAuditID, AuditEntry{Actor: actor, Action: "admin grant", Detail: a + " " + string(r)})
		return putJSON(b, roleKey(a, r), RoleGrant{Address: a, Role: r, Granted: t.s.now().UTC(), By: actor})
	})
	return changed, err
}

// RevokeRole takes role r (every role when r is "") from addr and returns
// the roles removed. Revoking a role the user does not hold is an error
// that says which roles they do hold.
func (s *Store) RevokeRole(ctx context.Context, addr string, r Role, actor string) ([]Role, error) {
	a, err := NormalizeAddress(addr)
	if err != nil {
		return nil, err
	}
	if r != "" {
		if _, err := ParseRole(string(r)); err != nil {
			return nil, err
		}
	}
	var removed []Role
	err = s.update(ctx, func(t *Tx) error {
		held := rolesTx(t.tx, a)
		if len(held) == 0 && bucket(t.tx, "accounts").Get([]byte(a)) == nil {
			return errNoUser(a)
		}
		removed = nil
		for _, h := range held {
			if r == "" || h == r {
				removed = append(removed, h)
			}
		}
		if len(removed) == 0 {
			if len(held) == 0 {
				return errorf(ErrNotFound, "%s holds no admin role (see `mailsrv admin list`)", a)
			}
			return errorf(ErrNotFound, "%s does not hold role %s (they hold %s)", a, r, joinRoles(held))
		}
		return t.dropRoles(a, removed, actor, "admin revoke")
	})
	return removed, err
}

// dropRoles deletes roles rs of a, each with an audit entry.
func (t *Tx) dropRoles(a string, rs []Role, actor, action string) error {
	b := bucket(t.tx, "roles")
	for _, h := range rs {
		if err := b.Delete(roleKey(a, h)); err != nil {
			return err
		}
		t.Audit(ServerAuditID, AuditEntry{Actor: actor, Action: action, Detail: a + " " + string(h)})
	}
	return nil
}

func joinRoles(rs []Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// rolesTx returns a's roles in the order of Roles.
func rolesTx(tx kv.Tx, a string) []Role {
	var out []Role
	b := bucket(tx, "roles")
	for _, r := range Roles {
		if b.Get(roleKey(a, r)) != nil {
			out = append(out, r)
		}
	}
	return out
}

// RolesOf returns the roles user addr holds (none: an empty slice, no
// error, also for an address that is not a user).
func (s *Store) RolesOf(ctx context.Context, addr string) ([]Role, error) {
	a, err := NormalizeAddress(addr)
	if err != nil {
		return nil, err
	}
	var out []Role
	err = s.view(ctx, func(tx kv.Tx) error {
		out = rolesTx(tx, a)
		return nil
	})
	return out, err
}

// RoleHolders returns the users holding role r, sorted.
func (s *Store) RoleHolders(ctx context.Context, r Role) ([]string, error) {
	var out []string
	err := s.view(ctx, func(tx kv.Tx) error {
		out = roleHoldersTx(tx, r)
		return nil
	})
	return out, err
}

func roleHoldersTx(tx kv.Tx, r Role) []string {
	var out []string
	suffix := []byte("\x00" + string(r))
	bucket(tx, "roles").ForEach(func(k, _ []byte) error {
		if bytes.HasSuffix(k, suffix) {
			out = append(out, string(k[:len(k)-len(suffix)]))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// RoleGrants lists every role held, sorted by address then role order.
func (s *Store) RoleGrants(ctx context.Context) ([]RoleGrant, error) {
	out := []RoleGrant{}
	err := s.view(ctx, func(tx kv.Tx) error {
		b := bucket(tx, "roles")
		return b.ForEach(func(k, _ []byte) error {
			var g RoleGrant
			if _, err := getJSON(b, k, &g); err != nil {
				return err
			}
			out = append(out, g)
			return nil
		})
	})
	order := map[Role]int{}
	for i, r := range Roles {
		order[r] = i
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Address != out[j].Address {
			return out[i].Address < out[j].Address
		}
		return order[out[i].Role] < order[out[j].Role]
	})
	return out, err
}
