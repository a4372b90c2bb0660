package store

import (
	"context"
	"fmt"

	"mailsrv/auth/acl"

	"mailsrv/store/kv"
)

// This file holds the lifecycle of shared mailboxes beyond create/grant
// (which live in mailbox.go and acl.go): rename, remove, conversion of a
// personal account into a shared mailbox, and reassigning a mailbox to
// another user. The recycle-bin side (restore, purge) is in lifecycle_trash.go.

// liveMailboxTx returns the live mailbox at normalised address a.
func liveMailboxTx(tx kv.Tx, a string) (*Mailbox, error) {
	id := bucket(tx, "mbaddr").Get([]byte(a))
	if id == nil {
		return nil, errorf(ErrNotFound, "mailbox %s: not found (see `mailsrv user list` and `mailsrv shared list`)", a)
	}
	return getMailboxTx(tx, getU64(id))
}

func liveSharedTx(tx kv.Tx, a string) (*Mailbox, error) {
	mb, err := liveMailboxTx(tx, a)
	if err != nil {
		return nil, errorf(ErrNotFound, "shared mailbox %s: not found (see `mailsrv shared list`)", a)
	}
	if mb.Kind != MailboxShared {
		return nil, errorf(ErrNotFound, "%s is a personal mailbox, not a shared one (see `mailsrv shared list`; `mailsrv shared create %s --from-user` converts it)", a, a)
	}
	return mb, nil
}

// RenameShared changes a shared mailbox's address from oldAddr to newAddr
// (newAddr "" or equal to oldAddr: keep the address) and, if name is not
// empty, its display name. The old address becomes an alias of the new one
// so mail sent to it keeps arriving; members' IMAP clients see the folder
// tree under Shared/<new>/ from their next LIST (EventMailbox tells open
// sessions). The mailbox id, folders, UIDs and rights are unchanged.
func (s *Store) RenameShared(ctx context.Context, oldAddr, newAddr, name, actor string) (*Mailbox, error) {
	oa, err := NormalizeAddress(oldAddr)
	if err != nil {
		return nil, err
	}
	na := oa
	if newAddr != "" {
		if na, err = NormalizeAddress(newAddr); err != nil {
			return nil, err
		}
	}
	if na == oa && name == "" {
		return nil, fmt.Errorf("nothing to change: give a new address or --name")
	}
	var mb *Mailbox
	err = s.update(ctx, func(t *Tx) error {
		var err error
		if mb, err = liveSharedTx(t.tx, oa); err != nil {
			return err
		}
		detail := ""
		if na != oa {
			// Renaming back onto an address this mailbox had before: the
			// alias left by that rename is ours to take back.
			var back Alias
			aliases := bucket(t.tx, "aliases")
			if ok, _ := getJSON(aliases, []byte(na), &back); ok && len(back.Targets) == 1 && back.Targets[0] == oa {
				if err := aliases.Delete([]byte(na)); err != nil {
					return err
				}
			}
			if err := checkFreeAddress(t.tx, na); err != nil {
				return err
			}
			mbaddr := bucket(t.tx, "mbaddr")
			if err := mbaddr.Delete([]byte(oa)); err != nil {
				return err
			}
			if err := mbaddr.Put([]byte(na), u64(mb.ID)); err != nil {
				return err
			}
			al := Alias{Address: oa, Targets: []string{na}, Created: t.s.now().UTC()}
			if err := putJSON(bucket(t.tx, "aliases"), []byte(oa), al); err != nil {
				return err
			}
			mb.Address = na
			detail = oa + " → " + na
		}
		if name != "" {
			if detail != "" {
				detail += ", "
			}
			detail += fmt.Sprintf("name %q → %q", mb.Name, name)
			mb.Name = name
		}
		if err := t.putMailbox(mb); err != nil {
			return err
		}
		t.Audit(mb.ID, AuditEntry{Actor: actor, Action: "rename", Detail: detail})
		t.Publish(Event{Kind: EventMailbox, MailboxID: mb.ID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return mb, nil
}

// RemoveShared moves a shared mailbox into the recycle bin with its members'
// rights (restored together by RestoreTrash). Aliases pointing at it stay
// but resolve to nothing until it is restored.
func (s *Store) RemoveShared(ctx context.Context, addr, actor string) (*TrashItem, error) {
	a, err := NormalizeAddress(addr)
	if err != nil {
		return nil, err
	}
	var item *TrashItem
	err = s.update(ctx, func(t *Tx) error {
		mb, err := liveSharedTx(t.tx, a)
		if err != nil {
			return err
		}
		t.Audit(mb.ID, AuditEntry{Actor: actor, Action: "remove"})
		if item, err = t.trashMailbox(mb, "shared", ""); err != nil {
			return err
		}
		id := mb.ID
		if item.ACL, err = t.removeACLRows(func(mbid uint64, _ string) bool { return mbid == id }); err != nil {
			return err
		}
		return t.putTrash(item)
	})
	return item, err
}

// ConvertUserToShared turns the personal account addr into a shared
// mailbox at the same address, keeping every folder and message (the
// common case of info@ that used to be one person's account).
//
// The account is removed: its login stops working, because a shared
// mailbox is reached through members' own credentials (SPEC §6). If
// passwordHash is not empty the shared mailbox gets that password and can
// log in as itself again. owner ("" = none) must be another local user.
// The account's memberships of other shared mailboxes are dropped (it is no
// longer a user); an account that owns shared mailboxes is refused.
func (s *Store) ConvertUserToShared(ctx context.Context, addr, name, owner, passwordHash string, maxPerDomain int, actor string) (*Mailbox, error) {
	a, err := NormalizeAddress(addr)
	if err != nil {
		return nil, err
	}
	if owner != "" {
		if owner, err = NormalizeAddress(owner); err != nil {
			return nil, err
		}
		if owner == a {
			return nil, fmt.Errorf("%s cannot own itself: the account stops existing when converted; choose another --owner", a)
		}
	}
	var mb *Mailbox
	err = s.update(ctx, func(t *Tx) error {
		accts := bucket(t.tx, "accounts")
		var acct Account
		ok, err := getJSON(accts, []byte(a), &acct)
		if err != nil {
			return err
		}
		if !ok {
			return errNoUser(a)
		}
		if owner != "" && accts.Get([]byte(owner)) == nil {
			return errorf(ErrNotFound, "owner %s is not a local user (see `mailsrv user list`, or add it with `mailsrv user add %s`)", owner, owner)
		}
		if owned := ownedShared(t.tx, a); len(owned) > 0 {
			return fmt.Errorf("%s owns shared mailbox %s: reassign it (`mailsrv mailbox reassign`) first", a, owned[0])
		}
		if maxPerDomain > 0 {
			if n := countShared(t.tx, DomainOf(a)); n >= maxPerDomain {
				return fmt.Errorf("domain %s already has %d shared mailboxes, the limit limits.shared_mailboxes_per_domain = %d: remove one (`mailsrv shared remove`), or raise shared_mailboxes_per_domain under [limits] in the config file (0 = unlimited) and restart the server", DomainOf(a), n, maxPerDomain)
			}
		}
		if mb, err = getMailboxTx(t.tx, acct.MailboxID); err != nil {
			return err
		}
		if name == "" {
			name = acct.Name
		}
		mb.Kind, mb.Name, mb.Owner, mb.PasswordHash = MailboxShared, name, owner, passwordHash
		if err := t.putMailbox(mb); err != nil {
			return err
		}
		if _, err := t.removeACLRows(func(_ uint64, m string) bool { return m == a }); err != nil {
			return err
		}
		if err := accts.Delete([]byte(a)); err != nil {
			return err
		}
		t.Audit(mb.ID, AuditEntry{Actor: actor, Action: "create", Detail: "converted from user " + a + ", owner " + owner})
		t.Publish(Event{Kind: EventMailbox, MailboxID: mb.ID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return mb, nil
}

// ReassignResult says what Reassign did.
type ReassignResult struct {
	Mailbox Mailbox    // the mailbox that was taken over
	Trashed *TrashItem // the user's previous mailbox, nil for a shared ADDR
	// Rights lists the rights on shared mailboxes that the departed
	// address (or a shared mailbox's previous owner) held: passed on to
	// user (To set) only with KeepRights, otherwise removed and left to an
	// explicit `shared grant`. Each is an audit entry of its mailbox.
	Rights []RightsChange
	// Roles are the departed user's admin roles: removed, or with
	// KeepRights given to user; audited under ServerAuditID.
	Roles []Role
}

// RightsChange is one membership a reassign removed or passed on.
type RightsChange struct {
	Mailbox string `json:"mailbox"`
	From    string `json:"from"`
	To      string `json:"to,omitempty"` // "" when not passed on
	Rights  string `json:"rights"`
}

// ReassignOptions tune Reassign.
type ReassignOptions struct {
	// KeepRights passes the departed address's shared-mailbox rights and
	// admin roles (and a shared mailbox's previous owner's rights) on
	// instead of removing them.
	KeepRights bool
}

// Reassign hands the mailbox at addr, with its whole history, to user.
//
// For a shared mailbox, user becomes its owner (the previous owner loses
// the implicit rights; user's own mailbox is untouched).
//
// For a personal mailbox (a user who left), user takes it over: it becomes
// user's personal mailbox, and addr becomes an alias of user — an address
// user owns, not user's login. That choice keeps user's own login name and
// password (nobody has to learn new credentials, and no two people ever
// share one login), while mail to addr keeps arriving in the same mailbox.
// The departed account is deleted; its shared-mailbox ownerships pass to
// user, its memberships and admin roles are removed and listed (passed on
// with ReassignOptions.KeepRights), never silently. user's previous mailbox goes to
// the recycle bin as a "mailbox" item: restoring it puts its folders back
// into user's mailbox under "Restored/".
func (s *Store) Reassign(ctx context.Context, addr, user, actor string) (*ReassignResult, error) {
	return s.ReassignWith(ctx, addr, user, actor, ReassignOptions{})
}

// ReassignWith is Reassign with options.
func (s *Store) ReassignWith(ctx context.Context, addr, user, actor string, o ReassignOptions) (*ReassignResult, error) {
	a, err := NormalizeAddress(addr)
	if err != nil {
		return nil, err
	}
	u, err := NormalizeAddress(user)
	if err != nil {
		return nil, err
	}
	if a == u {
		return nil, fmt.Errorf("%s already has %s", u, a)
	}
	var res *ReassignResult
	err = s.update(ctx, func(t *Tx) error {
		res = &ReassignResult{}
		accts := bucket(t.tx, "accounts")
		var ua Account
		ok, err := getJSON(accts, []byte(u), &ua)
		if err != nil {
			return err
		}
		if !ok {
			return errorf(ErrNotFound, "user %s is not a local user (see `mailsrv user list`, or add it with `mailsrv user add %s`)", u, u)
		}
		mb, err := liveMailboxTx(t.tx, a)
		if err != nil {
			return err
		}
		if mb.Kind == MailboxShared {
			prev := mb.Owner
			mb.Owner = u
			if err := t.putMailbox(mb); err != nil {
				return err
			}
			// The new owner's member row is redundant now.
			aclB := bucket(t.tx, "acl")
			aclB.Delete(aclKey(mb.ID, u))
			t.Audit(mb.ID, AuditEntry{Actor: actor, Action: "reassign", Detail: "owner " + prev + " → " + u})
			ch := RightsChange{Mailbox: mb.Address, From: prev, Rights: acl.All.String()}
			if o.KeepRights {
				if err := aclB.Put(aclKey(mb.ID, prev), []byte(acl.All.String())); err != nil {
					return err
				}
				ch.To = prev
				t.Audit(mb.ID, AuditEntry{Actor: actor, Action: "grant", Detail: prev + " " + ch.Rights + " (previous owner, reassign --keep-rights)"})
			} else {
				t.Audit(mb.ID, AuditEntry{Actor: actor, Action: "revoke", Detail: prev + " (previous owner, reassign)"})
			}
			res.Rights = append(res.Rights, ch)
			t.Publish(Event{Kind: EventACL, MailboxID: mb.ID})
			res.Mailbox = *mb
			return nil
		}
		return t.takeOverPersonal(mb, &ua, actor, o, res)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (t *Tx) takeOverPersonal(mb *Mailbox, ua *Account, actor string, o ReassignOptions, res *ReassignResult) error {
	a, u := mb.Address, ua.Address
	old, err := getMailboxTx(t.tx, ua.MailboxID)
	if err != nil {
		return err
	}
	// 1. u's previous mailbox → recycle bin (this drops mbaddr[u]).
	item, err := t.trashMailbox(old, "mailbox", "previous mail of "+u+" before taking over "+a)
	if err != nil {
		return err
	}
	if err := t.putTrash(item); err != nil {
		return err
	}
	res.Trashed = item
	// 2. The departed account's memberships are removed, or passed to u
	// with KeepRights (rights merged); each change is audited. Its
	// ownerships pass to u (a shared mailbox needs an owner).
	saved, err := t.removeACLRows(func(_ uint64, m string) bool { return m == a })
	if err != nil {
		return err
	}
	aclB := bucket(t.tx, "acl")
	for _, row := range saved {
		sm, err := getMailboxTx(t.tx, row.MailboxID)
		if err != nil {
			return err
		}
		ch := RightsChange{Mailbox: sm.Address, From: a, Rights: row.Rights}
		switch {
		case sm.Owner == u:
			t.Audit(sm.ID, AuditEntry{Actor: actor, Action: "revoke", Detail: a + " (reassigned to the owner " + u + ")"})
			ch.To = u
		case o.KeepRights:
			r, _ := acl.Parse(row.Rights)
			if cur := aclB.Get(aclKey(row.MailboxID, u)); cur != nil {
				c, _ := acl.Parse(string(cur))
				r |= c
			}
			if err := aclB.Put(aclKey(row.MailboxID, u), []byte(r.String())); err != nil {
				return err
			}
			t.Audit(sm.ID, AuditEntry{Actor: actor, Action: "grant", Detail: u + " " + row.Rights + " (from " + a + ", reassign --keep-rights)"})
			t.Audit(sm.ID, AuditEntry{Actor: actor, Action: "revoke", Detail: a + " (reassigned to " + u + ")"})
			ch.To = u
		default:
			t.Audit(sm.ID, AuditEntry{Actor: actor, Action: "revoke", Detail: a + " " + row.Rights + " (reassigned to " + u + "; rights not passed on)"})
		}
		res.Rights = append(res.Rights, ch)
	}
	// Admin roles follow the same rule.
	res.Roles = rolesTx(t.tx, a)
	if err := t.dropRoles(a, res.Roles, actor, "admin revoke (reassign)"); err != nil {
		return err
	}
	if o.KeepRights {
		for _, r := range res.Roles {
			if bucket(t.tx, "roles").Get(roleKey(u, r)) != nil {
				continue
			}
			if err := putJSON(bucket(t.tx, "roles"), roleKey(u, r), RoleGrant{Address: u, Role: r, Granted: t.s.now().UTC(), By: actor}); err != nil {
				return err
			}
			t.Audit(ServerAuditID, AuditEntry{Actor: actor, Action: "admin grant (reassign --keep-rights)", Detail: u + " " + string(r)})
		}
	}
	for _, owned := range ownedShared(t.tx, a) {
		sm, err := liveMailboxTx(t.tx, owned)
		if err != nil {
			return err
		}
		sm.Owner = u
		aclB.Delete(aclKey(sm.ID, u))
		if err := t.putMailbox(sm); err != nil {
			return err
		}
		t.Audit(sm.ID, AuditEntry{Actor: actor, Action: "reassign", Detail: "owner " + a + " → " + u})
		t.Publish(Event{Kind: EventACL, MailboxID: sm.ID})
	}
	// 3. The mailbox becomes u's; a becomes an alias of u.
	mbaddr := bucket(t.tx, "mbaddr")
	if err := mbaddr.Delete([]byte(a)); err != nil {
		return err
	}
	if err := mbaddr.Put([]byte(u), u64(mb.ID)); err != nil {
		return err
	}
	mb.Address, mb.Owner = u, u
	if err := t.putMailbox(mb); err != nil {
		return err
	}
	if err := bucket(t.tx, "accounts").Delete([]byte(a)); err != nil {
		return err
	}
	ua.MailboxID = mb.ID
	if err := putJSON(bucket(t.tx, "accounts"), []byte(u), ua); err != nil {
		return err
	}
	al := Alias{Address: a, Targets: []string{u}, Created: t.s.now().UTC()}
	if err := putJSON(bucket(t.tx, "aliases"), []byte(a), al); err != nil {
		return err
	}
	t.Publish(Event{Kind: EventMailbox, MailboxID: mb.ID})
	res.Mailbox = *mb
	return nil
}
