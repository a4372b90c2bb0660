package admin

import (
	"context"
	"strings"
)

type aliasArgs struct {
	Address string `json:"address"`
	Target  string `json:"target,omitempty"`
}

// AliasInfo is how an alias is shown by `alias list`.
type AliasInfo struct {
	Address string   `json:"address"`
	Targets []string `json:"targets"`
}

func (h *Handler) aliasOps() map[string]OpFunc {
	return map[string]OpFunc{
		"alias.add": op(func(ctx context.Context, a aliasArgs) (any, error) {
			if err := h.Store.AddAlias(ctx, a.Address, a.Target); err != nil {
				return nil, err
			}
			return Done{Message: "alias " + a.Address + " → " + a.Target + " added"}, nil
		}),
		"alias.list": op(func(ctx context.Context, _ struct{}) (any, error) {
			as, err := h.Store.Aliases(ctx)
			if err != nil {
				return nil, err
			}
			out := []AliasInfo{}
			for _, a := range as {
				out = append(out, AliasInfo{Address: a.Address, Targets: a.Targets})
			}
			return out, nil
		}),
		"alias.remove": op(func(ctx context.Context, a aliasArgs) (any, error) {
			if err := h.Store.RemoveAlias(ctx, a.Address); err != nil {
				return nil, err
			}
			return Done{Message: "alias " + strings.TrimSpace(a.Address) + " removed"}, nil
		}),
	}
}
