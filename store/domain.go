package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"mailsrv/auth/msgauth"

	"mailsrv/store/kv"
)

// DKIMKey is one DKIM signing key of a domain.
type DKIMKey struct {
	Selector      string `json:"selector"`
	Algorithm     string `json:"algorithm"` // "ed25519" or "rsa"
	PrivateKeyPEM string `json:"private_key_pem"`
	PublicKey     string `json:"public_key"` // base64, the p= tag of the DNS record
}

// Domain is a local mail domain.
type Domain struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	DKIM    []DKIMKey `json:"dkim,omitempty"`
}

// SigningKeys returns the domain's DKIM private keys for msgauth.SignEach.
func (d Domain) SigningKeys() []msgauth.Key {
	keys := make([]msgauth.Key, len(d.DKIM))
	for i, k := range d.DKIM {
		keys[i] = msgauth.Key{Selector: k.Selector, PrivateKeyPEM: []byte(k.PrivateKeyPEM)}
	}
	return keys
}

// AddDomain adds a local domain. The caller supplies the DKIM keys.
func (s *Store) AddDomain(ctx context.Context, d Domain) error {
	name, err := NormalizeDomain(d.Name)
	if err != nil {
		return err
	}
	d.Name = name
	d.Created = s.now().UTC()
	return s.update(ctx, func(t *Tx) error {
		b := bucket(t.tx, "domains")
		if b.Get([]byte(name)) != nil {
			return fmt.Errorf("domain %s: %w", name, ErrExists)
		}
		return putJSON(b, []byte(name), d)
	})
}

// Domains lists local domains sorted by name.
func (s *Store) Domains(ctx context.Context) ([]Domain, error) {
	var out []Domain
	err := s.view(ctx, func(tx kv.Tx) error {
		return bucket(tx, "domains").ForEach(func(k, v []byte) error {
			var d Domain
			if _, err := getJSON(bucket(tx, "domains"), k, &d); err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
	})
	return out, err
}

// DomainNames lists the local domain names.
func (s *Store) DomainNames(ctx context.Context) []string {
	var out []string
	s.view(ctx, func(tx kv.Tx) error {
		return bucket(tx, "domains").ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out
}

// GetDomain returns one local domain.
func (s *Store) GetDomain(ctx context.Context, name string) (*Domain, error) {
	n, err := NormalizeDomain(name)
	if err != nil {
		return nil, err
	}
	var d Domain
	err = s.view(ctx, func(tx kv.Tx) error {
		ok, err := getJSON(bucket(tx, "domains"), []byte(n), &d)
		if err == nil && !ok {
			err = errorf(ErrUnknownDomain, "domain %s: not a local domain (see `mailsrv domain list`, or add it with `mailsrv domain add %s`)", n, n)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// IsLocalDomain reports whether name is one of our domains.
func (s *Store) IsLocalDomain(ctx context.Context, name string) bool {
	n, err := NormalizeDomain(name)
	if err != nil {
		return false
	}
	found := false
	s.view(ctx, func(tx kv.Tx) error {
		found = bucket(tx, "domains").Get([]byte(n)) != nil
		return nil
	})
	return found
}

// RemoveDomain removes a domain that no user, alias or mailbox uses.
func (s *Store) RemoveDomain(ctx context.Context, name string) error {
	n, err := NormalizeDomain(name)
	if err != nil {
		return err
	}
	return s.update(ctx, func(t *Tx) error {
		b := bucket(t.tx, "domains")
		if b.Get([]byte(n)) == nil {
			return errorf(ErrUnknownDomain, "domain %s: not a local domain (see `mailsrv domain list`, or add it with `mailsrv domain add %s`)", n, n)
		}
		var users []string
		for _, bn := range []string{"accounts", "aliases", "mbaddr"} {
			c := bucket(t.tx, bn).Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if DomainOf(string(k)) == n {
					users = append(users, string(k))
				}
			}
		}
		if len(users) > 0 {
			sort.Strings(users)
			users = dedup(users)
			return fmt.Errorf("domain %s is still used by %s: remove them first", n, strings.Join(users, ", "))
		}
		return b.Delete([]byte(n))
	})
}

func dedup(sorted []string) []string {
	out := sorted[:0]
	for i, v := range sorted {
		if i == 0 || v != sorted[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func isLocalDomainTx(tx kv.Tx, domain string) bool {
	return bucket(tx, "domains").Get([]byte(domain)) != nil
}
