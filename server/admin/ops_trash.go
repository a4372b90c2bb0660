package admin

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// TrashInfo is how `trash list` shows a recycle-bin item.
type TrashInfo struct {
	ID         uint64    `json:"id"`
	Kind       string    `json:"kind"` // user, shared, or mailbox (a user's previous mail after a reassign)
	Address    string    `json:"address"`
	DeletedAt  time.Time `json:"deleted_at"`
	PurgeAfter time.Time `json:"purge_after"`
	Messages   uint32    `json:"messages"`
	Bytes      int64     `json:"bytes"`
	Note       string    `json:"note,omitempty"`
}

type trashArgs struct {
	ID        uint64 `json:"id,omitempty"`
	OlderThan string `json:"older_than,omitempty"` // "" = retention.recycle_bin_days
}

func (h *Handler) retention() time.Duration {
	return time.Duration(h.config().Retention.RecycleBinDays) * 24 * time.Hour
}

func (h *Handler) trashOps() map[string]OpFunc {
	return map[string]OpFunc{
		"trash.list": op(func(ctx context.Context, _ struct{}) (any, error) {
			items, err := h.Store.Trash(ctx)
			if err != nil {
				return nil, err
			}
			out := []TrashInfo{}
			for _, it := range items {
				info := TrashInfo{ID: it.ID, Kind: it.Kind, Address: it.Address, DeletedAt: it.DeletedAt,
					PurgeAfter: it.DeletedAt.Add(h.retention()), Note: it.Note}
				info.Messages, info.Bytes = h.mailboxUsage(ctx, it.MailboxID)
				out = append(out, info)
			}
			return out, nil
		}),
		"trash.restore": op(func(ctx context.Context, a trashArgs) (any, error) {
			if a.ID == 0 {
				return nil, fmt.Errorf("give the recycle bin item ID (see `mailsrv trash list`)")
			}
			it, err := h.Store.RestoreTrash(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			if it.Kind == "mailbox" {
				return Done{Message: fmt.Sprintf("item %d restored into %s under Restored/", it.ID, it.Address)}, nil
			}
			return Done{Message: fmt.Sprintf("%s %s restored", map[string]string{"user": "user", "shared": "shared mailbox"}[it.Kind], it.Address)}, nil
		}),
		"trash.purge": op(func(ctx context.Context, a trashArgs) (any, error) {
			if a.ID != 0 {
				if err := h.Store.PurgeTrash(ctx, a.ID); err != nil {
					return nil, err
				}
				return Done{Message: fmt.Sprintf("item %d purged", a.ID)}, nil
			}
			age := h.retention()
			if a.OlderThan != "" {
				var err error
				if age, err = ParseDuration(a.OlderThan); err != nil {
					return nil, fmt.Errorf("--older-than: %w", err)
				}
			}
			items, err := h.Store.Trash(ctx)
			if err != nil {
				return nil, err
			}
			// The handler's clock (not the store's) decides age, so the
			// CLI and its tests agree on "now".
			cutoff := h.now().Add(-age)
			var done []string
			var errs []string
			for _, it := range items {
				if it.DeletedAt.After(cutoff) {
					continue
				}
				if err := h.Store.PurgeTrash(ctx, it.ID); err != nil {
					errs = append(errs, err.Error())
					continue
				}
				done = append(done, fmt.Sprintf("%d (%s)", it.ID, it.Address))
			}
			if len(errs) > 0 {
				return nil, fmt.Errorf("purged %d items, failed: %s", len(done), strings.Join(errs, "; "))
			}
			if len(done) == 0 {
				return Done{Message: "nothing to purge"}, nil
			}
			return Done{Message: "purged " + strings.Join(done, ", ")}, nil
		}),
	}
}
