package admin

import (
	"context"
	"fmt"

	"mailsrv/store"
)

type mailboxArgs struct {
	Source  string `json:"source,omitempty"`
	Address string `json:"address,omitempty"`
	To      string `json:"to"`
}

// BackupInfo is the result of `mailbox backup`.
type BackupInfo struct {
	store.BackupResult
	Message string `json:"message"`
}

func (h *Handler) mailboxOps() map[string]OpFunc {
	return map[string]OpFunc{
		"mailbox.backup": op(func(ctx context.Context, a mailboxArgs) (any, error) {
			res, err := h.Store.BackupMailbox(a.Source, a.To, actor(ctx))
			if err != nil {
				return nil, err
			}
			src, _ := store.NormalizeAddress(a.Source)
			return BackupInfo{BackupResult: *res, Message: fmt.Sprintf(
				"backed up %s into %s under %s/%s/: %d messages copied, %d already there (%d folders)",
				src, a.To, store.BackupPrefix, src, res.Copied, res.Skipped, res.Folders)}, nil
		}),
		"mailbox.reassign": op(func(ctx context.Context, a mailboxArgs) (any, error) {
			res, err := h.Store.Reassign(a.Address, a.To, actor(ctx))
			if err != nil {
				return nil, err
			}
			if res.Trashed == nil {
				return Done{Message: fmt.Sprintf("%s now owns shared mailbox %s", res.Mailbox.Owner, res.Mailbox.Address)}, nil
			}
			addr, _ := store.NormalizeAddress(a.Address)
			return Done{Message: fmt.Sprintf(
				"%s took over %s with its history (%s is now an alias of %s); %s's previous mail is recycle bin item %d, kept %d days (restore with `mailsrv trash restore %d`)",
				res.Mailbox.Address, addr, addr, res.Mailbox.Address, res.Mailbox.Address, res.Trashed.ID,
				h.config().Retention.RecycleBinDays, res.Trashed.ID)}, nil
		}),
	}
}
