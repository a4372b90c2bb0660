package store

import (
	"context"
	"time"

	"mailsrv/store/kv"
)

// Account is a user who can log in; it owns one personal mailbox.
type Account struct {
	Address      string    `json:"address"`
	Name         string    `json:"name,omitempty"`
	PasswordHash string    `json:"password_hash"`
	MailboxID    uint64    `json:"mailbox_id"`
	Created      time.Time `json:"created"`
}

// addressUse says what, if anything, uses addr ("user", "alias", "shared mailbox").
func addressUse(tx kv.Tx, addr string) string {
	switch {
	case bucket(tx, "accounts").Get([]byte(addr)) != nil:
		return "user"
	case bucket(tx, "aliases").Get([]byte(addr)) != nil:
		return "alias"
	case bucket(tx, "mbaddr").Get([]byte(addr)) != nil:
		return "shared mailbox"
	}
	return ""
}

// withArticle puts "a" or "an" before an addressUse word.
func withArticle(use string) string {
	if use == "alias" {
		return "an " + use
	}
	return "a " + use
}

// checkFreeAddress fails unless addr is in a local domain and unused.
func checkFreeAddress(tx kv.Tx, addr string) error {
	if !isLocalDomainTx(tx, DomainOf(addr)) {
		return errorf(ErrUnknownDomain, "%s: domain %s is not a local domain (add it with `mailsrv domain add %s`)",
			addr, DomainOf(addr), DomainOf(addr))
	}
	if use := addressUse(tx, addr); use != "" {
		return errorf(ErrExists, "%s is already used by %s", addr, withArticle(use))
	}
	return nil
}

// AddUser creates an account with its personal mailbox and default folders.
func (s *Store) AddUser(ctx context.Context, addr, name, passwordHash string) (*Account, error) {
	a, err := NormalizeAddress(addr)
	if err != nil {
		return nil, err
	}
	acct := &Account{Address: a, Name: name, PasswordHash: passwordHash, Created: s.now().UTC()}
	err = s.update(ctx, func(t *Tx) error {
		if err := checkFreeAddress(t.tx, a); err != nil {
			return err
		}
		mb, err := t.createMailbox(MailboxPersonal, a, name, a, "")
		if err != nil {
			return err
		}
		acct.MailboxID = mb.ID
		return putJSON(bucket(t.tx, "accounts"), []byte(a), acct)
	})
	if err != nil {
		return nil, err
	}
	return acct, nil
}

// User returns the account for addr.
func (s *Store) User(ctx context.Context, addr string) (*Account, error) {
	a, err := NormalizeAddress(addr)
	if err != nil {
		return nil, err
	}
	var acct Account
	err = s.view(ctx, func(tx kv.Tx) error {
		ok, err := getJSON(bucket(tx, "accounts"), []byte(a), &acct)
		if err == nil && !ok {
			err = errNoUser(a)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &acct, nil
}

// Users lists all accounts sorted by address.
func (s *Store) Users(ctx context.Context) ([]Account, error) {
	var out []Account
	err := s.view(ctx, func(tx kv.Tx) error {
		b := bucket(tx, "accounts")
		return b.ForEach(func(k, _ []byte) error {
			var a Account
			if _, err := getJSON(b, k, &a); err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	return out, err
}

// SetPassword replaces a user's password hash.
func (s *Store) SetPassword(ctx context.Context, addr, passwordHash string) error {
	a, err := NormalizeAddress(addr)
	if err != nil {
		return err
	}
	return s.update(ctx, func(t *Tx) error {
		b := bucket(t.tx, "accounts")
		var acct Account
		ok, err := getJSON(b, []byte(a), &acct)
		if err != nil {
			return err
		}
		if !ok {
			return errNoUser(a)
		}
		acct.PasswordHash = passwordHash
		return putJSON(b, []byte(a), acct)
	})
}
