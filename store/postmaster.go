package store

import (
	"context"
	"strings"

	"mailsrv/store/kv"
)

// Every local domain accepts postmaster@ and abuse@ (RFC 5321 §4.5.1,
// RFC 2142; SPEC §4) even when no user or alias has that name: such mail
// goes to the users with the postmaster role, or, when there are none, to
// the domain's first user (the earliest created).

// isRoleAccount reports the local parts that every domain must accept.
func isRoleAccount(addr string) bool {
	local, _, _ := strings.Cut(addr, "@")
	return local == "postmaster" || local == "abuse"
}

// postmasterFallbackTx returns the users who receive postmaster@domain and
// abuse@domain when no user or alias has that name (nil: nobody).
func postmasterFallbackTx(tx kv.Tx, domain string) []string {
	if hs := roleHoldersTx(tx, RolePostmaster); len(hs) > 0 {
		return hs
	}
	var first *Account
	b := bucket(tx, "accounts")
	b.ForEach(func(k, _ []byte) error {
		if DomainOf(string(k)) != domain {
			return nil
		}
		var a Account
		if _, err := getJSON(b, k, &a); err == nil && (first == nil || a.Created.Before(first.Created)) {
			first = &a
		}
		return nil
	})
	if first == nil {
		return nil
	}
	return []string{first.Address}
}

// Receivers returns the addresses of the mailboxes that mail to addr is
// delivered to (what Resolve would pick), for `domain verify`. An address
// nobody receives is ErrNotFound, like Resolve.
func (s *Store) Receivers(ctx context.Context, addr string) ([]string, error) {
	ids, err := s.Resolve(ctx, addr)
	if err != nil {
		return nil, err
	}
	var out []string
	err = s.view(ctx, func(tx kv.Tx) error {
		for _, id := range ids {
			mb, err := getMailboxTx(tx, id)
			if err != nil {
				return err
			}
			out = append(out, mb.Address)
		}
		return nil
	})
	return out, err
}
