package admin

import (
	"context"
	"fmt"
	"strings"

	"mailsrv/store"
)

type mailboxArgs struct {
	Source     string `json:"source,omitempty"`
	Address    string `json:"address,omitempty"`
	To         string `json:"to"`
	KeepRights bool   `json:"keep_rights,omitempty"` // mailbox.reassign --keep-rights
}

// ReassignInfo is the result of `mailbox reassign`.
type ReassignInfo struct {
	Message string               `json:"message"`
	Rights  []store.RightsChange `json:"rights"`
	Roles   []store.Role         `json:"roles"`
}

// BackupInfo is the result of `mailbox backup`.
type BackupInfo struct {
	store.BackupResult
	Message string `json:"message"`
}

func (h *Handler) mailboxOps() map[string]OpFunc {
	return map[string]OpFunc{
		"mailbox.backup": op(func(ctx context.Context, a mailboxArgs) (any, error) {
			prog := progressOf(ctx)
			res, err := h.Store.BackupMailboxProgress(ctx, a.Source, a.To, actor(ctx), func(r store.BackupResult) {
				prog("mailbox backup", int64(r.Copied+r.Skipped), 0, "messages")
			})
			if err != nil {
				return nil, err
			}
			src, _ := store.NormalizeAddress(a.Source)
			return BackupInfo{BackupResult: *res, Message: fmt.Sprintf(
				"backed up %s into %s under %s/%s/: %d messages copied, %d already there (%d folders)",
				src, a.To, store.BackupPrefix, src, res.Copied, res.Skipped, res.Folders)}, nil
		}),
		"mailbox.reassign": op(func(ctx context.Context, a mailboxArgs) (any, error) {
			res, err := h.Store.ReassignWith(ctx, a.Address, a.To, actor(ctx), store.ReassignOptions{KeepRights: a.KeepRights})
			if err != nil {
				return nil, err
			}
			info := ReassignInfo{Rights: res.Rights, Roles: res.Roles}
			if info.Rights == nil {
				info.Rights = []store.RightsChange{}
			}
			if info.Roles == nil {
				info.Roles = []store.Role{}
			}
			addr, _ := store.NormalizeAddress(a.Address)
			if res.Trashed == nil {
				info.Message = fmt.Sprintf("%s now owns shared mailbox %s", res.Mailbox.Owner, res.Mailbox.Address)
			} else {
				info.Message = fmt.Sprintf(
					"%s took over %s with its history (%s is now an alias of %s); %s's previous mail is recycle bin item %d, kept %d days (restore with `mailsrv trash restore %d`)",
					res.Mailbox.Address, addr, addr, res.Mailbox.Address, res.Mailbox.Address, res.Trashed.ID,
					h.config().Retention.RecycleBinDays, res.Trashed.ID)
			}
			info.Message += reassignRightsText(res, a.KeepRights)
			return info, nil
		}),
	}
}

// reassignRightsText says which rights a reassign removed or passed on.
func reassignRightsText(res *store.ReassignResult, kept bool) string {
	var b strings.Builder
	for _, ch := range res.Rights {
		switch {
		case ch.To != "" && ch.To == ch.From:
			fmt.Fprintf(&b, "\n%s keeps %s on %s as a member (--keep-rights)", ch.From, ch.Rights, ch.Mailbox)
		case ch.To != "":
			fmt.Fprintf(&b, "\n%s's rights %s on %s passed to %s", ch.From, ch.Rights, ch.Mailbox, ch.To)
		default:
			to := res.Mailbox.Owner
			if res.Trashed == nil {
				to = ch.From // a shared mailbox's previous owner
			}
			fmt.Fprintf(&b, "\n%s's rights %s on %s were removed, not passed on; if needed: `mailsrv shared grant %s %s --rights %s`",
				ch.From, ch.Rights, ch.Mailbox, ch.Mailbox, to, ch.Rights)
		}
	}
	for _, r := range res.Roles {
		if kept {
			fmt.Fprintf(&b, "\nadmin role %s passed to %s", r, res.Mailbox.Owner)
		} else {
			fmt.Fprintf(&b, "\nadmin role %s of the departed user was removed; if needed: `mailsrv admin grant %s %s`", r, res.Mailbox.Owner, r)
		}
	}
	if b.Len() > 0 && !kept {
		b.WriteString("\n(run again with --keep-rights to pass rights on; every change is in the audit log)")
	}
	return b.String()
}
