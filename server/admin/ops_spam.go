package admin

import (
	"context"
	"fmt"

	"mailsrv/store"
)

// SpamInfo is how `spam show` reports a mailbox's junk filter.
type SpamInfo struct {
	Address string `json:"address"`
	Kind    string `json:"kind"` // personal or shared
	// Enabled says whether [spam] junk_filter is on.
	Enabled bool `json:"junk_filter"`
	store.SpamStats
	// Ready is true once the filter holds enough spam and ham to decide.
	Ready bool `json:"ready"`
}

type spamArgs struct {
	Address string `json:"address"`
}

func (h *Handler) spamOps(ctx context.Context) map[string]OpFunc {
	mailbox := func(addr string) (*store.Mailbox, error) {
		norm, err := store.NormalizeAddress(addr)
		if err != nil {
			return nil, err
		}
		mb, err := h.Store.MailboxByAddress(ctx, norm)
		if err != nil {
			return nil, fmt.Errorf("%s is not a user or shared mailbox: %w", norm, err)
		}
		return mb, nil
	}
	return map[string]OpFunc{
		"spam.show": op(func(ctx context.Context, a spamArgs) (any, error) {
			mb, err := mailbox(a.Address)
			if err != nil {
				return nil, err
			}
			st, err := h.Store.SpamStatsOf(ctx, mb.ID)
			if err != nil {
				return nil, err
			}
			return SpamInfo{Address: mb.Address, Kind: mb.Kind, Enabled: h.config().Spam.JunkFilter, SpamStats: st,
				Ready: st.Spam >= store.SpamMinTrained && st.Ham >= store.SpamMinTrained}, nil
		}),
		"spam.reset": op(func(ctx context.Context, a spamArgs) (any, error) {
			mb, err := mailbox(a.Address)
			if err != nil {
				return nil, err
			}
			if err := h.Store.SpamReset(ctx, mb.ID); err != nil {
				return nil, err
			}
			return Done{Message: fmt.Sprintf("junk filter of %s reset: it forgot every trained message and known sender", mb.Address)}, nil
		}),
	}
}
