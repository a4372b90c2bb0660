package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"mailsrv/store/kv"
)

// Alias forwards an address of a local domain to local users or shared
// mailboxes. Address "@example.com" is the domain's catch-all (off unless
// an admin adds one), used only for addresses that match nothing else.
type Alias struct {
	Address string    `json:"address"`
	Targets []string  `json:"targets"`
	Created time.Time `json:"created"`
}

// normalizeAliasAddress accepts local@domain or the catch-all form @domain.
func normalizeAliasAddress(addr string) (string, error) {
	if strings.HasPrefix(strings.TrimSpace(addr), "@") {
		d, err := NormalizeDomain(strings.TrimSpace(addr)[1:])
		if err != nil {
			return "", err
		}
		return "@" + d, nil
	}
	return NormalizeAddress(addr)
}

// AddAlias makes addr deliver to target (a local user or shared mailbox).
// Adding a second target to an existing alias extends its target list.
func (s *Store) AddAlias(ctx context.Context, addr, target string) error {
	a, err := normalizeAliasAddress(addr)
	if err != nil {
		return err
	}
	tg, err := NormalizeAddress(target)
	if err != nil {
		return err
	}
	return s.update(ctx, func(t *Tx) error {
		if !isLocalDomainTx(t.tx, DomainOf(a)) {
			return errorf(ErrUnknownDomain, "%s: domain %s is not a local domain (add it with `mailsrv domain add %s`)", a, DomainOf(a), DomainOf(a))
		}
		if use := addressUse(t.tx, tg); use != "user" && use != "shared mailbox" {
			return errorf(ErrNotFound, "alias target %s is not a local user or shared mailbox (see `mailsrv user list` and `mailsrv shared list`)", tg)
		}
		b := bucket(t.tx, "aliases")
		var al Alias
		ok, err := getJSON(b, []byte(a), &al)
		if err != nil {
			return err
		}
		if !ok {
			if use := addressUse(t.tx, a); use != "" {
				return errorf(ErrExists, "%s is already used by %s", a, withArticle(use))
			}
			al = Alias{Address: a, Created: t.s.now().UTC()}
		}
		for _, x := range al.Targets {
			if x == tg {
				return errorf(ErrExists, "alias %s → %s already exists", a, tg)
			}
		}
		al.Targets = append(al.Targets, tg)
		return putJSON(b, []byte(a), al)
	})
}

// Aliases lists all aliases.
func (s *Store) Aliases(ctx context.Context) ([]Alias, error) {
	var out []Alias
	err := s.view(ctx, func(tx kv.Tx) error {
		b := bucket(tx, "aliases")
		return b.ForEach(func(k, _ []byte) error {
			var a Alias
			if _, err := getJSON(b, k, &a); err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	return out, err
}

// RemoveAlias removes an alias (all its targets).
func (s *Store) RemoveAlias(ctx context.Context, addr string) error {
	a, err := normalizeAliasAddress(addr)
	if err != nil {
		return err
	}
	return s.update(ctx, func(t *Tx) error {
		b := bucket(t.tx, "aliases")
		if b.Get([]byte(a)) == nil {
			return errorf(ErrNotFound, "alias %s: not found (see `mailsrv alias list`)", a)
		}
		return b.Delete([]byte(a))
	})
}

// maxAliasDepth bounds alias chains (an alias may point at an address that
// later became an alias, e.g. after `shared rename`).
const maxAliasDepth = 5

// Resolve maps a recipient address to the live mailboxes it delivers to.
// It returns ErrUnknownDomain for a non-local domain and ErrNotFound for an
// unknown local address. postmaster@ and abuse@ of every local domain
// resolve even without a user or alias of that name (postmaster.go).
func (s *Store) Resolve(ctx context.Context, addr string) ([]uint64, error) {
	a, err := NormalizeAddress(addr)
	if err != nil {
		return nil, err
	}
	var ids []uint64
	err = s.view(ctx, func(tx kv.Tx) error {
		if !isLocalDomainTx(tx, DomainOf(a)) {
			return ErrUnknownDomain
		}
		seen := map[uint64]bool{}
		var walk func(addr string, depth int) error
		walk = func(addr string, depth int) error {
			if depth > maxAliasDepth {
				return fmt.Errorf("alias loop at %s", addr)
			}
			if id := bucket(tx, "mbaddr").Get([]byte(addr)); id != nil {
				if v := getU64(id); !seen[v] {
					seen[v] = true
					ids = append(ids, v)
				}
				return nil
			}
			var al Alias
			ok, err := getJSON(bucket(tx, "aliases"), []byte(addr), &al)
			if err != nil {
				return err
			}
			if !ok {
				return ErrNotFound
			}
			for _, tg := range al.Targets {
				if err := walk(tg, depth+1); err != nil && err != ErrNotFound {
					return err
				}
			}
			return nil
		}
		err := walk(a, 0)
		if err == ErrNotFound && isRoleAccount(a) {
			err = nil
			for _, u := range postmasterFallbackTx(tx, DomainOf(a)) {
				if werr := walk(u, 0); werr != nil && werr != ErrNotFound {
					err = werr
				}
			}
			if err == nil && len(ids) == 0 {
				err = ErrNotFound
			}
		}
		if err == ErrNotFound {
			err = walk("@"+DomainOf(a), 0)
		}
		if err == nil && len(ids) == 0 {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}
