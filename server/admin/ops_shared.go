package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"mailsrv/auth"
	"mailsrv/auth/acl"
	"mailsrv/server/config"
	"mailsrv/store"
)

// MemberInfo is one member of a shared mailbox and their rights.
type MemberInfo struct {
	Member string `json:"member"`
	Rights string `json:"rights"`
}

// SharedInfo is how `shared list` and `shared show` describe a shared mailbox.
type SharedInfo struct {
	Address     string       `json:"address"`
	Name        string       `json:"name,omitempty"`
	Owner       string       `json:"owner,omitempty"`
	Members     []MemberInfo `json:"members"`
	Messages    uint32       `json:"messages"`
	Bytes       int64        `json:"bytes"`
	HasPassword bool         `json:"has_password"`
	Created     time.Time    `json:"created"`
	// Seen is "shared" or "per-member" (`--seen`).
	Seen string `json:"seen"`
}

// AuditInfo is one audit log line as `shared audit` prints it.
type AuditInfo = store.AuditEntry

type sharedArgs struct {
	Address  string `json:"address"`
	Name     string `json:"name,omitempty"`
	Owner    string `json:"owner,omitempty"`
	Password string `json:"password,omitempty"`
	FromUser bool   `json:"from_user,omitempty"`
	Member   string `json:"member,omitempty"`
	Rights   string `json:"rights,omitempty"`
	NewAddr  string `json:"new_address,omitempty"`
	Since    string `json:"since,omitempty"` // duration back from now, e.g. "7d"
	// Seen (shared.create): "shared" (default) or "per-member".
	Seen string `json:"seen,omitempty"`
}

// parseSeen reads --seen: "" and "shared" are shared \Seen.
func parseSeen(v string) (perMember bool, err error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "shared":
		return false, nil
	case "per-member":
		return true, nil
	}
	return false, fmt.Errorf("--seen %q: want shared or per-member", v)
}

func seenMode(mb *store.Mailbox) string {
	if mb.SeenPerMember {
		return "per-member"
	}
	return "shared"
}

// config returns the handler's config, or the defaults.
func (h *Handler) config() *config.Config {
	if h.Config != nil {
		return h.Config
	}
	return config.Default()
}

// sharedMailbox finds the live shared mailbox at addr.
func (h *Handler) sharedMailbox(ctx context.Context, addr string) (*store.Mailbox, error) {
	mb, err := h.Store.MailboxByAddress(ctx, addr)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no shared mailbox %s (see `mailsrv shared list`)", strings.TrimSpace(addr))
	}
	if err != nil {
		return nil, err
	}
	if mb.Kind != store.MailboxShared {
		return nil, fmt.Errorf("%s is a personal mailbox, not a shared one (convert it with `mailsrv shared create %s --from-user`)", mb.Address, mb.Address)
	}
	return mb, nil
}

func (h *Handler) sharedInfo(ctx context.Context, mb *store.Mailbox) (SharedInfo, error) {
	info := SharedInfo{Address: mb.Address, Name: mb.Name, Owner: mb.Owner, HasPassword: mb.PasswordHash != "",
		Created: mb.Created, Members: []MemberInfo{}, Seen: seenMode(mb)}
	entries, err := h.Store.ACL(ctx, mb.ID)
	if err != nil {
		return info, err
	}
	for _, e := range entries {
		info.Members = append(info.Members, MemberInfo{Member: e.Member, Rights: acl.Effective(e.Rights).String()})
	}
	info.Messages, info.Bytes = h.mailboxUsage(ctx, mb.ID)
	return info, nil
}

func (h *Handler) sharedOps() map[string]OpFunc {
	lim := func() config.Limits { return h.config().Limits }
	return map[string]OpFunc{
		"shared.create": op(func(ctx context.Context, a sharedArgs) (any, error) {
			perMember, err := parseSeen(a.Seen)
			if err != nil {
				return nil, err
			}
			hash := ""
			if a.Password != "" {
				if err := checkPassword(a.Password); err != nil {
					return nil, err
				}
				var err error
				if hash, err = auth.HashPassword(a.Password); err != nil {
					return nil, err
				}
			}
			var mb *store.Mailbox
			if a.FromUser {
				mb, err = h.Store.ConvertUserToShared(ctx, a.Address, a.Name, a.Owner, hash, lim().SharedMailboxesPerDomain, actor(ctx))
			} else {
				mb, err = h.Store.CreateShared(ctx, a.Address, a.Name, a.Owner, hash, lim().SharedMailboxesPerDomain)
			}
			if err != nil {
				return nil, err
			}
			if perMember {
				if mb, err = h.Store.SetSeenMode(ctx, mb.ID, true, actor(ctx)); err != nil {
					return nil, err
				}
			}
			msg := "shared mailbox " + mb.Address + " created"
			if a.FromUser {
				msg = "user " + mb.Address + " converted into a shared mailbox; its mail is kept"
				if hash == "" {
					msg += "; its login no longer works (members reach it with their own password)"
				}
			}
			if mb.Owner != "" {
				msg += ", owner " + mb.Owner
			}
			if perMember {
				msg += ", each member with their own \\Seen"
			}
			return Done{Message: msg}, nil
		}),
		"shared.grant": op(func(ctx context.Context, a sharedArgs) (any, error) {
			rights, err := acl.Parse(a.Rights)
			if err != nil {
				return nil, fmt.Errorf("--rights: %v", strings.TrimPrefix(err.Error(), "acl: "))
			}
			mb, err := h.sharedMailbox(ctx, a.Address)
			if err != nil {
				return nil, err
			}
			if err := h.Store.Grant(ctx, mb.ID, a.Member, rights, lim().SharedMailboxMembers, actor(ctx)); err != nil {
				return nil, err
			}
			return Done{Message: fmt.Sprintf("%s may now %s on %s", strings.TrimSpace(a.Member), acl.Effective(rights), mb.Address)}, nil
		}),
		"shared.revoke": op(func(ctx context.Context, a sharedArgs) (any, error) {
			mb, err := h.sharedMailbox(ctx, a.Address)
			if err != nil {
				return nil, err
			}
			if err := h.Store.Revoke(ctx, mb.ID, a.Member, actor(ctx)); err != nil {
				return nil, err
			}
			return Done{Message: strings.TrimSpace(a.Member) + " removed from " + mb.Address}, nil
		}),
		"shared.list": op(func(ctx context.Context, _ struct{}) (any, error) {
			mbs, err := h.Store.SharedMailboxes(ctx)
			if err != nil {
				return nil, err
			}
			out := []SharedInfo{}
			for i := range mbs {
				info, err := h.sharedInfo(ctx, &mbs[i])
				if err != nil {
					return nil, err
				}
				out = append(out, info)
			}
			return out, nil
		}),
		"shared.show": op(func(ctx context.Context, a sharedArgs) (any, error) {
			mb, err := h.sharedMailbox(ctx, a.Address)
			if err != nil {
				return nil, err
			}
			return h.sharedInfo(ctx, mb)
		}),
		"shared.rename": op(func(ctx context.Context, a sharedArgs) (any, error) {
			old, err := h.sharedMailbox(ctx, a.Address)
			if err != nil {
				return nil, err
			}
			mb, err := h.Store.RenameShared(ctx, old.Address, a.NewAddr, a.Name, actor(ctx))
			if err != nil {
				return nil, err
			}
			if mb.Address != old.Address {
				return Done{Message: fmt.Sprintf("shared mailbox %s renamed to %s; %s stays as an alias", old.Address, mb.Address, old.Address)}, nil
			}
			return Done{Message: fmt.Sprintf("shared mailbox %s is now named %q", mb.Address, mb.Name)}, nil
		}),
		"shared.remove": op(func(ctx context.Context, a sharedArgs) (any, error) {
			item, err := h.Store.RemoveShared(ctx, a.Address, actor(ctx))
			if err != nil {
				return nil, err
			}
			return Done{Message: fmt.Sprintf("shared mailbox %s removed; its mail is in the recycle bin as item %d (restore with `mailsrv trash restore %d`)",
				item.Address, item.ID, item.ID)}, nil
		}),
		"shared.audit": op(func(ctx context.Context, a sharedArgs) (any, error) {
			mb, err := h.sharedMailbox(ctx, a.Address)
			if err != nil {
				return nil, err
			}
			var since time.Time
			if a.Since != "" {
				d, err := ParseDuration(a.Since)
				if err != nil {
					return nil, fmt.Errorf("--since: %w", err)
				}
				since = h.now().Add(-d)
			}
			log, err := h.Store.AuditLog(ctx, mb.ID, since)
			if err != nil {
				return nil, err
			}
			if log == nil {
				log = []store.AuditEntry{}
			}
			return log, nil
		}),
	}
}

// ParseDuration reads a duration as the CLI and the config file both do
// (config.ParseDuration): a Go duration ("36h", "90m") or days ("30d").
func ParseDuration(s string) (time.Duration, error) { return config.ParseDuration(s) }
