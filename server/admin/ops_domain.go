package admin

import (
	"context"
	"fmt"

	"mailsrv/auth/msgauth"
	"mailsrv/store"
)

// DomainInfo is how a domain is shown by `domain list`.
type DomainInfo struct {
	Name      string   `json:"name"`
	Selectors []string `json:"dkim_selectors"`
}

type domainArgs struct {
	Name string `json:"name"`
}

// dkimSelector names a domain's key: algorithm plus creation month, so a
// later key rotation gets a distinct selector and both can be published
// side by side during the switch.
func dkimSelector(algo string, month string) string {
	if algo == msgauth.AlgEd25519 {
		return "ed" + month
	}
	return "rsa" + month
}

func (h *Handler) domainOps() map[string]OpFunc {
	return map[string]OpFunc{
		"domain.add": op(func(ctx context.Context, a domainArgs) (any, error) {
			d := store.Domain{Name: a.Name}
			month := h.now().UTC().Format("200601")
			// ed25519 is small and modern; RSA-2048 is still needed because
			// some receivers (notably older ones) verify only RSA.
			for _, algo := range []string{msgauth.AlgEd25519, msgauth.AlgRSA} {
				kp, err := msgauth.GenerateKey(algo)
				if err != nil {
					return nil, err
				}
				d.DKIM = append(d.DKIM, store.DKIMKey{Selector: dkimSelector(algo, month), Algorithm: algo,
					PrivateKeyPEM: string(kp.PrivateKeyPEM), PublicKey: kp.PublicKey})
			}
			if err := h.Store.AddDomain(ctx, d); err != nil {
				return nil, err
			}
			name, _ := store.NormalizeDomain(a.Name)
			return Done{Message: fmt.Sprintf("domain %s added with DKIM selectors %s and %s; run `mailsrv domain records %s` for the DNS records to publish",
				name, d.DKIM[0].Selector, d.DKIM[1].Selector, name)}, nil
		}),
		"domain.list": op(func(ctx context.Context, _ struct{}) (any, error) {
			ds, err := h.Store.Domains(ctx)
			if err != nil {
				return nil, err
			}
			out := []DomainInfo{}
			for _, d := range ds {
				info := DomainInfo{Name: d.Name, Selectors: []string{}}
				for _, k := range d.DKIM {
					info.Selectors = append(info.Selectors, k.Selector)
				}
				out = append(out, info)
			}
			return out, nil
		}),
		"domain.remove": op(func(ctx context.Context, a domainArgs) (any, error) {
			if err := h.Store.RemoveDomain(ctx, a.Name); err != nil {
				return nil, err
			}
			return Done{Message: "domain " + a.Name + " removed"}, nil
		}),
	}
}
