package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"mailsrv/store/kv"
)

// Mailbox kinds.
const (
	MailboxPersonal = "personal"
	MailboxShared   = "shared"
)

// Mailbox is a store of folders: a user's personal mailbox or a shared one.
type Mailbox struct {
	ID           uint64     `json:"id"`
	Kind         string     `json:"kind"`
	Address      string     `json:"address"`
	Name         string     `json:"name,omitempty"`
	Owner        string     `json:"owner,omitempty"`
	PasswordHash string     `json:"password_hash,omitempty"`
	Created      time.Time  `json:"created"`
	Deleted      *time.Time `json:"deleted,omitempty"` // in the recycle bin
	// AutoReply is the shared mailbox's auto-acknowledgement or the
	// personal mailbox's vacation notice (team_settings.go); nil = none.
	AutoReply *AutoReply `json:"auto_reply,omitempty"`
	// RemindAfter (shared mailboxes): mail waiting longer goes into the
	// members' daily digest; 0 = no digest.
	RemindAfter time.Duration `json:"remind_after,omitempty"`
	// SeenPerMember (shared mailboxes, `--seen per-member`): each member
	// has their own \Seen (seen_member.go).
	SeenPerMember bool `json:"seen_per_member,omitempty"`
}

// DefaultFolders are created in every new mailbox, with their SPECIAL-USE.
var DefaultFolders = []struct{ Name, SpecialUse string }{
	{"INBOX", ""},
	{"Sent", `\Sent`},
	{"Drafts", `\Drafts`},
	{"Trash", `\Trash`},
	{"Junk", `\Junk`},
	{"Archive", `\Archive`},
}

// createMailbox creates a mailbox with the default folders and indexes its
// address. The caller has checked that the address is free.
func (t *Tx) createMailbox(kind, addr, name, owner, passwordHash string) (*Mailbox, error) {
	b := bucket(t.tx, "mailboxes")
	id, err := b.NextSequence()
	if err != nil {
		return nil, err
	}
	mb := &Mailbox{ID: id, Kind: kind, Address: addr, Name: name, Owner: owner,
		PasswordHash: passwordHash, Created: t.s.now().UTC()}
	if err := putJSON(b, u64(id), mb); err != nil {
		return nil, err
	}
	if err := bucket(t.tx, "mbaddr").Put([]byte(addr), u64(id)); err != nil {
		return nil, err
	}
	if _, err := bucket(t.tx, "folders").CreateBucket(u64(id)); err != nil {
		return nil, err
	}
	for _, f := range DefaultFolders {
		if _, err := t.createFolder(id, f.Name, f.SpecialUse); err != nil {
			return nil, err
		}
	}
	return mb, nil
}

// putMailbox rewrites a mailbox record.
func (t *Tx) putMailbox(mb *Mailbox) error {
	return putJSON(bucket(t.tx, "mailboxes"), u64(mb.ID), mb)
}

func getMailboxTx(tx kv.Tx, id uint64) (*Mailbox, error) {
	var mb Mailbox
	ok, err := getJSON(bucket(tx, "mailboxes"), u64(id), &mb)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("mailbox %d: %w", id, ErrNotFound)
	}
	return &mb, nil
}

// Mailbox returns a mailbox by id (also one in the recycle bin).
func (s *Store) Mailbox(ctx context.Context, id uint64) (*Mailbox, error) {
	var mb *Mailbox
	err := s.view(ctx, func(tx kv.Tx) error {
		var err error
		mb, err = getMailboxTx(tx, id)
		return err
	})
	return mb, err
}

// MailboxByAddress returns the live mailbox (personal or shared) at addr.
// Aliases are not followed.
func (s *Store) MailboxByAddress(ctx context.Context, addr string) (*Mailbox, error) {
	a, err := NormalizeAddress(addr)
	if err != nil {
		return nil, err
	}
	var mb *Mailbox
	err = s.view(ctx, func(tx kv.Tx) error {
		id := bucket(tx, "mbaddr").Get([]byte(a))
		if id == nil {
			return errorf(ErrNotFound, "mailbox %s: not found (see `mailsrv user list` and `mailsrv shared list`)", a)
		}
		var err error
		mb, err = getMailboxTx(tx, getU64(id))
		return err
	})
	return mb, err
}

// SharedMailboxes lists live shared mailboxes sorted by address.
func (s *Store) SharedMailboxes(ctx context.Context) ([]Mailbox, error) {
	var out []Mailbox
	err := s.view(ctx, func(tx kv.Tx) error {
		b := bucket(tx, "mailboxes")
		return b.ForEach(func(k, _ []byte) error {
			var mb Mailbox
			if _, err := getJSON(b, k, &mb); err != nil {
				return err
			}
			if mb.Kind == MailboxShared && mb.Deleted == nil {
				out = append(out, mb)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out, err
}

// CreateShared creates a shared mailbox at addr. owner ("" = none) must be
// a local user; maxPerDomain > 0 limits shared mailboxes per domain.
func (s *Store) CreateShared(ctx context.Context, addr, name, owner, passwordHash string, maxPerDomain int) (*Mailbox, error) {
	a, err := NormalizeAddress(addr)
	if err != nil {
		return nil, err
	}
	if owner != "" {
		if owner, err = NormalizeAddress(owner); err != nil {
			return nil, err
		}
	}
	var mb *Mailbox
	err = s.update(ctx, func(t *Tx) error {
		if err := checkFreeAddress(t.tx, a); err != nil {
			return err
		}
		if owner != "" && bucket(t.tx, "accounts").Get([]byte(owner)) == nil {
			return errorf(ErrNotFound, "owner %s is not a local user (see `mailsrv user list`, or add it with `mailsrv user add %s`)", owner, owner)
		}
		if maxPerDomain > 0 {
			if n := countShared(t.tx, DomainOf(a)); n >= maxPerDomain {
				return fmt.Errorf("domain %s already has %d shared mailboxes, the limit limits.shared_mailboxes_per_domain = %d: remove one (`mailsrv shared remove`), or raise shared_mailboxes_per_domain under [limits] in the config file (0 = unlimited) and restart the server", DomainOf(a), n, maxPerDomain)
			}
		}
		var err error
		mb, err = t.createMailbox(MailboxShared, a, name, owner, passwordHash)
		if err != nil {
			return err
		}
		t.Audit(mb.ID, AuditEntry{Actor: "admin", Action: "create", Detail: "owner " + owner})
		return nil
	})
	return mb, err
}

func countShared(tx kv.Tx, domain string) int {
	n := 0
	b := bucket(tx, "mailboxes")
	b.ForEach(func(k, _ []byte) error {
		var mb Mailbox
		if _, err := getJSON(b, k, &mb); err == nil && mb.Kind == MailboxShared && mb.Deleted == nil && DomainOf(mb.Address) == domain {
			n++
		}
		return nil
	})
	return n
}
