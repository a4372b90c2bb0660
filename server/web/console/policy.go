package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"mailsrv/server/admin"
)

// The admin roles of SPEC §4 (`mailsrv admin grant ADDR ROLE`).
const (
	RolePostmaster = "postmaster"
	RoleUsers      = "users"
	RoleShared     = "shared-mailboxes"
)

// usersOps are the operations of the "users" role: users, aliases,
// passwords.
var usersOps = []string{"user.add", "user.list", "user.remove", "user.passwd", "alias.add", "alias.list", "alias.remove"}

// ownerOps are what the owner of a shared mailbox may do to it without
// any role: see it, manage its delegates, read its audit log.
var ownerOps = []string{"shared.show", "shared.grant", "shared.revoke", "shared.audit"}

// cliOnly are operations the web API never runs, whatever the role:
// `backup` writes a file at a path of the caller's choosing on the
// server, which only the server's owner (the CLI, over the 0600 socket)
// may ask for.
var cliOnly = []string{"backup"}

// errForbidden is the answer to an operation the caller's role does not
// allow (403).
var errForbidden = errors.New("forbidden")

// caller is who asks for an operation, with their roles read from the
// store for this request.
type caller struct {
	User  string
	Roles []string
}

func (c caller) has(role string) bool { return slices.Contains(c.Roles, role) }

// isAdmin reports whether the caller has any admin role.
func (c caller) isAdmin() bool {
	return c.has(RolePostmaster) || c.has(RoleUsers) || c.has(RoleShared)
}

// policy decides, for every request, whether a caller may run an
// operation. Facts it needs beyond the roles (who owns a shared mailbox,
// what a recycle-bin item holds) are read through the same dispatcher
// that runs the operation, at the time of the request.
type policy struct {
	admin Dispatcher
}

// allow returns nil when c may run op with args, errForbidden (wrapped
// with the reason) when not.
func (p *policy) allow(ctx context.Context, c caller, op string, args json.RawMessage) error {
	if slices.Contains(cliOnly, op) {
		return fmt.Errorf("%w: %s runs only from the CLI on the server", errForbidden, op)
	}
	if c.has(RolePostmaster) {
		return nil
	}
	if c.has(RoleUsers) && slices.Contains(usersOps, op) {
		return nil
	}
	if c.has(RoleShared) && p.sharedRoleAllows(ctx, op, args) {
		return nil
	}
	if slices.Contains(ownerOps, op) && p.ownsShared(ctx, c.User, argString(args, "address")) {
		return nil
	}
	return fmt.Errorf("%w: your admin roles do not allow %s", errForbidden, op)
}

// sharedRoleAllows: the "shared-mailboxes" role covers every shared.*
// operation, backup into or of a shared mailbox, reassigning a shared
// mailbox, and the recycle bin's shared mailboxes.
func (p *policy) sharedRoleAllows(ctx context.Context, op string, args json.RawMessage) bool {
	switch {
	case strings.HasPrefix(op, "shared."):
		return true
	case op == "mailbox.backup":
		return p.isShared(ctx, argString(args, "to")) || p.isShared(ctx, argString(args, "source"))
	case op == "mailbox.reassign":
		return p.isShared(ctx, argString(args, "address"))
	case op == "trash.list":
		return true
	case op == "trash.restore", op == "trash.purge":
		// One item at a time, and only a shared mailbox; purging
		// everything old is the postmaster's call.
		return p.trashKind(ctx, argUint(args, "id")) == "shared"
	}
	return false
}

// call runs a read-only operation for the policy's own questions.
func (p *policy) call(ctx context.Context, op string, args any, out any) error {
	raw, _ := json.Marshal(args)
	resp := p.admin.Handle(ctx, admin.Request{Op: op, Args: raw})
	if resp.Error != "" {
		return errors.New(resp.Error)
	}
	return json.Unmarshal(resp.Data, out)
}

func (p *policy) sharedInfo(ctx context.Context, addr string) (*admin.SharedInfo, error) {
	if addr == "" {
		return nil, errors.New("no address")
	}
	var info admin.SharedInfo
	if err := p.call(ctx, "shared.show", map[string]string{"address": addr}, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

func (p *policy) isShared(ctx context.Context, addr string) bool {
	_, err := p.sharedInfo(ctx, addr)
	return err == nil
}

func (p *policy) ownsShared(ctx context.Context, user, addr string) bool {
	info, err := p.sharedInfo(ctx, addr)
	return err == nil && info.Owner != "" && strings.EqualFold(info.Owner, user)
}

// ownedBy lists the shared mailboxes user owns.
func (p *policy) ownedBy(ctx context.Context, user string) []admin.SharedInfo {
	var all []admin.SharedInfo
	if p.call(ctx, "shared.list", struct{}{}, &all) != nil {
		return nil
	}
	var out []admin.SharedInfo
	for _, s := range all {
		if s.Owner != "" && strings.EqualFold(s.Owner, user) {
			out = append(out, s)
		}
	}
	return out
}

func (p *policy) trashKind(ctx context.Context, id uint64) string {
	if id == 0 {
		return ""
	}
	var items []admin.TrashInfo
	if p.call(ctx, "trash.list", struct{}{}, &items) != nil {
		return ""
	}
	for _, it := range items {
		if it.ID == id {
			return it.Kind
		}
	}
	return ""
}

// argString reads one string argument (for the policy; the operation
// itself decodes its arguments strictly).
func argString(args json.RawMessage, key string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(args, &m) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(m[key], &s) != nil {
		return ""
	}
	return strings.TrimSpace(s)
}

func argUint(args json.RawMessage, key string) uint64 {
	var m map[string]json.RawMessage
	if json.Unmarshal(args, &m) != nil {
		return 0
	}
	var n uint64
	if json.Unmarshal(m[key], &n) != nil {
		return 0
	}
	return n
}

// readOnly reports operations that change nothing (not audited as changes).
func readOnly(op string) bool {
	for _, suffix := range []string{".list", ".show", ".audit", ".records", ".verify", ".queue"} {
		if strings.HasSuffix(op, suffix) {
			return true
		}
	}
	return false
}
