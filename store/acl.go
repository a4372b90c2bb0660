package store

import (
	"bytes"
	"context"
	"fmt"
	"sort"

	"mailsrv/auth/acl"

	"mailsrv/store/kv"
)

// ACLEntry is one member's rights on a shared mailbox.
type ACLEntry struct {
	Member string     `json:"member"`
	Rights acl.Rights `json:"-"`
}

func aclKey(mbid uint64, member string) []byte { return append(u64(mbid), member...) }

// RightsOf returns what user may do in mailbox mbid, read from the database
// on every call so a revoke applies to the very next command. The owner of
// a personal or shared mailbox has every right.
func (s *Store) RightsOf(ctx context.Context, mbid uint64, user string) (acl.Rights, error) {
	var r acl.Rights
	err := s.view(ctx, func(tx kv.Tx) error {
		var err error
		r, err = rightsTx(tx, mbid, user)
		return err
	})
	return r, err
}

func rightsTx(tx kv.Tx, mbid uint64, user string) (acl.Rights, error) {
	mb, err := getMailboxTx(tx, mbid)
	if err != nil {
		return 0, err
	}
	if mb.Deleted != nil {
		return 0, nil
	}
	if mb.Owner == user || (mb.Kind == MailboxPersonal && mb.Address == user) {
		return acl.All, nil
	}
	v := bucket(tx, "acl").Get(aclKey(mbid, user))
	if v == nil {
		return 0, nil
	}
	r, err := acl.Parse(string(v))
	if err != nil {
		return 0, fmt.Errorf("stored rights of %s on %s: %w", user, mb.Address, err)
	}
	return acl.Effective(r), nil
}

// ACL lists the members of a mailbox with their rights (the owner is not
// listed; it has every right implicitly).
func (s *Store) ACL(ctx context.Context, mbid uint64) ([]ACLEntry, error) {
	var out []ACLEntry
	err := s.view(ctx, func(tx kv.Tx) error {
		out = aclTx(tx, mbid)
		return nil
	})
	return out, err
}

func aclTx(tx kv.Tx, mbid uint64) []ACLEntry {
	var out []ACLEntry
	prefix := u64(mbid)
	c := bucket(tx, "acl").Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		r, err := acl.Parse(string(v))
		if err != nil {
			continue
		}
		out = append(out, ACLEntry{Member: string(k[8:]), Rights: r})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Member < out[j].Member })
	return out
}

// Grant sets member's rights on shared mailbox mbid (replacing earlier
// rights). maxMembers > 0 caps the member count. actor is audited.
func (s *Store) Grant(ctx context.Context, mbid uint64, member string, rights acl.Rights, maxMembers int, actor string) error {
	m, err := NormalizeAddress(member)
	if err != nil {
		return err
	}
	if rights == 0 {
		return fmt.Errorf("no rights given: use `shared revoke` to remove a member")
	}
	return s.update(ctx, func(t *Tx) error {
		mb, err := getMailboxTx(t.tx, mbid)
		if err != nil {
			return err
		}
		if mb.Kind != MailboxShared || mb.Deleted != nil {
			return errorf(ErrNotFound, "%s is not a shared mailbox (see `mailsrv shared list`)", mb.Address)
		}
		if bucket(t.tx, "accounts").Get([]byte(m)) == nil {
			return errorf(ErrNotFound, "member %s is not a local user (see `mailsrv user list`, or add it with `mailsrv user add %s`)", m, m)
		}
		if m == mb.Owner {
			return fmt.Errorf("%s owns %s and already has every right", m, mb.Address)
		}
		key := aclKey(mbid, m)
		b := bucket(t.tx, "acl")
		if b.Get(key) == nil && maxMembers > 0 {
			if n := len(aclTx(t.tx, mbid)); n >= maxMembers {
				return fmt.Errorf("%s already has %d members, the limit limits.shared_mailbox_members = %d: revoke a member (`mailsrv shared revoke`), or raise shared_mailbox_members under [limits] in the config file and restart the server", mb.Address, n, maxMembers)
			}
		}
		if err := b.Put(key, []byte(rights.String())); err != nil {
			return err
		}
		t.Audit(mbid, AuditEntry{Actor: actor, Action: "grant", Detail: m + " " + rights.String()})
		t.Publish(Event{Kind: EventACL, MailboxID: mbid, Member: m})
		return nil
	})
}

// Revoke removes member from shared mailbox mbid. The owner cannot be revoked.
func (s *Store) Revoke(ctx context.Context, mbid uint64, member string, actor string) error {
	m, err := NormalizeAddress(member)
	if err != nil {
		return err
	}
	return s.update(ctx, func(t *Tx) error {
		mb, err := getMailboxTx(t.tx, mbid)
		if err != nil {
			return err
		}
		if m == mb.Owner {
			return fmt.Errorf("%s is the owner of %s and cannot be revoked (reassign the mailbox first)", m, mb.Address)
		}
		key := aclKey(mbid, m)
		b := bucket(t.tx, "acl")
		if b.Get(key) == nil {
			return errorf(ErrNotFound, "%s is not a member of %s (see `mailsrv shared show %s`)", m, mb.Address, mb.Address)
		}
		if err := b.Delete(key); err != nil {
			return err
		}
		t.Audit(mbid, AuditEntry{Actor: actor, Action: "revoke", Detail: m})
		t.Publish(Event{Kind: EventACL, MailboxID: mbid, Member: m})
		return nil
	})
}

// SharedAccess is a shared mailbox a user may see, with the user's rights.
type SharedAccess struct {
	Mailbox Mailbox
	Rights  acl.Rights
}

// SharedFor lists the live shared mailboxes user has the read right on
// (as owner or member), sorted by address.
func (s *Store) SharedFor(ctx context.Context, user string) ([]SharedAccess, error) {
	var out []SharedAccess
	err := s.view(ctx, func(tx kv.Tx) error {
		b := bucket(tx, "mailboxes")
		return b.ForEach(func(k, _ []byte) error {
			var mb Mailbox
			if _, err := getJSON(b, k, &mb); err != nil {
				return err
			}
			if mb.Kind != MailboxShared || mb.Deleted != nil {
				return nil
			}
			r, err := rightsTx(tx, mb.ID, user)
			if err != nil {
				return err
			}
			if r&acl.Read != 0 {
				out = append(out, SharedAccess{Mailbox: mb, Rights: r})
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Mailbox.Address < out[j].Mailbox.Address })
	return out, err
}
