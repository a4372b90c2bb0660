package admin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"mailsrv/store"
)

// QuotaArgs are the arguments of quota.set and quota.show. Size is like
// "500MB", "2GiB" or "0" (unlimited); Messages (optional) limits the
// message count, 0 = unlimited.
type QuotaArgs struct {
	Address  string `json:"address"`
	Size     string `json:"size,omitempty"`
	Messages int64  `json:"messages,omitempty"`
}

// QuotaInfo is what `quota show` prints: usage and limits of one account
// or shared mailbox (store.Quota's fields).
type QuotaInfo struct {
	Address string `json:"address"`
	store.Quota
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
	{"B", 1},
}

// ParseSize reads a size such as "500MB" (10^6), "2GiB" (2^30), "1.5G"
// (2^30), "1024" (bytes) or "0".
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("size %q: want a number with an optional unit, like 500MB, 2GiB or 0 (unlimited)", s)
	}
	return int64(v * float64(mult)), nil
}

// quotaMailbox finds the live user or shared mailbox at addr.
func (h *Handler) quotaMailbox(ctx context.Context, addr string) (*store.Mailbox, error) {
	mb, err := h.Store.MailboxByAddress(ctx, addr)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no user or shared mailbox %s (see `mailsrv user list` and `mailsrv shared list`)", strings.TrimSpace(addr))
	}
	if err != nil {
		return nil, err
	}
	if mb.Deleted != nil {
		return nil, fmt.Errorf("%s is in the recycle bin (see `mailsrv trash list`)", mb.Address)
	}
	return mb, nil
}

// quotaOps: `mailsrv quota set|show` (SPEC §4).
func (h *Handler) quotaOps() map[string]OpFunc {
	return map[string]OpFunc{
		"quota.set": op(func(ctx context.Context, a QuotaArgs) (any, error) {
			if strings.TrimSpace(a.Size) == "" {
				return nil, errors.New("quota set: a size is required, like 500MB, 2GiB or 0 (unlimited)")
			}
			size, err := ParseSize(a.Size)
			if err != nil {
				return nil, err
			}
			if a.Messages < 0 {
				return nil, errors.New("quota set: messages cannot be negative (0 = unlimited)")
			}
			mb, err := h.quotaMailbox(ctx, a.Address)
			if err != nil {
				return nil, err
			}
			if err := h.Store.SetQuota(ctx, mb.ID, store.QuotaLimit{Bytes: size, Messages: a.Messages}, actor(ctx)); err != nil {
				return nil, err
			}
			msg := fmt.Sprintf("quota of %s: %s", mb.Address, FormatSize(size))
			if a.Messages > 0 {
				msg += fmt.Sprintf(", %d messages", a.Messages)
			}
			return Done{Message: msg}, nil
		}),
		"quota.show": op(func(ctx context.Context, a QuotaArgs) (any, error) {
			if a.Size != "" || a.Messages != 0 {
				return nil, errors.New("quota show takes only an address")
			}
			mb, err := h.quotaMailbox(ctx, a.Address)
			if err != nil {
				return nil, err
			}
			q, err := h.Store.QuotaOf(ctx, mb.ID)
			if err != nil {
				return nil, err
			}
			return QuotaInfo{Address: mb.Address, Quota: q}, nil
		}),
	}
}

// FormatSize prints a byte count for people ("unlimited" for 0).
func FormatSize(b int64) string {
	switch {
	case b == 0:
		return "unlimited"
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", b)
}
