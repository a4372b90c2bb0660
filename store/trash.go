package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"mailsrv/store/kv"
)

// TrashItem is an entry of the recycle bin: a removed user or shared
// mailbox whose folders and messages are kept until restored or purged.
type TrashItem struct {
	ID        uint64     `json:"id"`
	Kind      string     `json:"kind"` // "user" or "shared"
	Address   string     `json:"address"`
	MailboxID uint64     `json:"mailbox_id"`
	Account   *Account   `json:"account,omitempty"` // for restoring a user
	ACL       []aclSaved `json:"acl,omitempty"`     // rights the user or mailbox had
	DeletedAt time.Time  `json:"deleted_at"`
	Note      string     `json:"note,omitempty"`
}

type aclSaved struct {
	MailboxID uint64 `json:"mailbox_id"`
	Member    string `json:"member"`
	Rights    string `json:"rights"`
}

// trashMailbox moves a live mailbox into the recycle bin: it keeps its
// folders and messages but loses its address. Returns the trash item.
func (t *Tx) trashMailbox(mb *Mailbox, kind, note string) (*TrashItem, error) {
	now := t.s.now().UTC()
	mb.Deleted = &now
	if err := t.putMailbox(mb); err != nil {
		return nil, err
	}
	if err := bucket(t.tx, "mbaddr").Delete([]byte(mb.Address)); err != nil {
		return nil, err
	}
	b := bucket(t.tx, "trash")
	id, err := b.NextSequence()
	if err != nil {
		return nil, err
	}
	item := &TrashItem{ID: id, Kind: kind, Address: mb.Address, MailboxID: mb.ID, DeletedAt: now, Note: note}
	t.Publish(Event{Kind: EventMailbox, MailboxID: mb.ID})
	return item, nil
}

func (t *Tx) putTrash(item *TrashItem) error {
	return putJSON(bucket(t.tx, "trash"), u64(item.ID), item)
}

// removeACLRows deletes ACL rows matching keep==false and returns them.
func (t *Tx) removeACLRows(match func(mbid uint64, member string) bool) ([]aclSaved, error) {
	b := bucket(t.tx, "acl")
	var saved []aclSaved
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		mbid, member := getU64(k[:8]), string(k[8:])
		if match(mbid, member) {
			saved = append(saved, aclSaved{MailboxID: mbid, Member: member, Rights: string(v)})
		}
	}
	for _, a := range saved {
		if err := b.Delete(aclKey(a.MailboxID, a.Member)); err != nil {
			return nil, err
		}
		t.Publish(Event{Kind: EventACL, MailboxID: a.MailboxID, Member: a.Member})
	}
	return saved, nil
}

// RemoveUser removes an account: its mailbox goes to the recycle bin and its
// memberships of shared mailboxes are removed (and kept for a restore). A
// user who owns shared mailboxes must hand them over first.
func (s *Store) RemoveUser(ctx context.Context, addr string) (*TrashItem, error) {
	a, err := NormalizeAddress(addr)
	if err != nil {
		return nil, err
	}
	var item *TrashItem
	err = s.update(ctx, func(t *Tx) error {
		var acct Account
		ok, err := getJSON(bucket(t.tx, "accounts"), []byte(a), &acct)
		if err != nil {
			return err
		}
		if !ok {
			return errNoUser(a)
		}
		if owned := ownedShared(t.tx, a); len(owned) > 0 {
			return fmt.Errorf("%s owns shared mailbox %s: reassign it (`mailsrv mailbox reassign`) or remove it first", a, owned[0])
		}
		mb, err := getMailboxTx(t.tx, acct.MailboxID)
		if err != nil {
			return err
		}
		if item, err = t.trashMailbox(mb, "user", ""); err != nil {
			return err
		}
		item.Account = &acct
		if item.ACL, err = t.removeACLRows(func(_ uint64, m string) bool { return m == a }); err != nil {
			return err
		}
		if err := bucket(t.tx, "accounts").Delete([]byte(a)); err != nil {
			return err
		}
		if err := dropUserSubscriptionsTx(t.tx, a); err != nil {
			return err
		}
		if err := t.dropRoles(a, rolesTx(t.tx, a), "admin", "admin revoke (user removed)"); err != nil {
			return err
		}
		return t.putTrash(item)
	})
	return item, err
}

func ownedShared(tx kv.Tx, user string) []string {
	var out []string
	b := bucket(tx, "mailboxes")
	b.ForEach(func(k, _ []byte) error {
		var mb Mailbox
		if _, err := getJSON(b, k, &mb); err == nil && mb.Kind == MailboxShared && mb.Deleted == nil && mb.Owner == user {
			out = append(out, mb.Address)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// Trash lists the recycle bin, oldest first.
func (s *Store) Trash(ctx context.Context) ([]TrashItem, error) {
	var out []TrashItem
	err := s.view(ctx, func(tx kv.Tx) error {
		b := bucket(tx, "trash")
		return b.ForEach(func(k, _ []byte) error {
			var it TrashItem
			if _, err := getJSON(b, k, &it); err != nil {
				return err
			}
			out = append(out, it)
			return nil
		})
	})
	return out, err
}
