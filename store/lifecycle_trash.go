package store

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"mailsrv/store/kv"
)

// Recycle-bin restore and purge. Items are created by RemoveUser,
// RemoveShared and Reassign (see trash.go and shared_lifecycle.go).
// Kinds:
//
//	"user"    a removed account: restore re-creates the account, its mailbox
//	          address and its memberships.
//	"shared"  a removed shared mailbox: restore re-indexes the address and
//	          puts back members' rights.
//	"mailbox" a user's previous mail set aside by Reassign: the address now
//	          belongs to another mailbox, so restore moves the folders into
//	          the live mailbox at that address under "Restored/".

// RestoredPrefix is the folder under which a "mailbox" trash item's folders
// come back.
const RestoredPrefix = "Restored"

func getTrashTx(tx kv.Tx, id uint64) (*TrashItem, error) {
	var it TrashItem
	ok, err := getJSON(bucket(tx, "trash"), u64(id), &it)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errorf(ErrNotFound, "recycle bin item %d: not found (see `mailsrv trash list`)", id)
	}
	return &it, nil
}

// RestoreTrash brings recycle-bin item id back and removes it from the bin.
func (s *Store) RestoreTrash(ctx context.Context, id uint64) (*TrashItem, error) {
	var item *TrashItem
	err := s.update(ctx, func(t *Tx) error {
		var err error
		if item, err = getTrashTx(t.tx, id); err != nil {
			return err
		}
		mb, err := getMailboxTx(t.tx, item.MailboxID)
		if err != nil {
			return err
		}
		switch item.Kind {
		case "user", "shared":
			if err := t.restoreAtAddress(item, mb); err != nil {
				return err
			}
		case "mailbox":
			if err := t.mergeIntoLive(item, mb); err != nil {
				return err
			}
		default:
			return fmt.Errorf("recycle bin item %d has unknown kind %q", id, item.Kind)
		}
		return bucket(t.tx, "trash").Delete(u64(id))
	})
	return item, err
}

// restoreAtAddress makes mb live again at its own address.
func (t *Tx) restoreAtAddress(item *TrashItem, mb *Mailbox) error {
	if use := addressUse(t.tx, item.Address); use != "" {
		return fmt.Errorf("cannot restore %s: the address is now used by a %s (remove or rename that first): %w", item.Address, use, ErrExists)
	}
	accts := bucket(t.tx, "accounts")
	if item.Kind == "user" {
		if item.Account == nil {
			return fmt.Errorf("recycle bin item %d has no account to restore", item.ID)
		}
		acct := *item.Account
		acct.MailboxID = mb.ID
		if err := putJSON(accts, []byte(acct.Address), acct); err != nil {
			return err
		}
	} else if mb.Owner != "" && accts.Get([]byte(mb.Owner)) == nil {
		mb.Owner = "" // the owner left meanwhile; an admin reassigns
	}
	mb.Deleted = nil
	if err := t.putMailbox(mb); err != nil {
		return err
	}
	if err := bucket(t.tx, "mbaddr").Put([]byte(mb.Address), u64(mb.ID)); err != nil {
		return err
	}
	// Put back the rights that still make sense: the member is a user and
	// the shared mailbox is live.
	aclB := bucket(t.tx, "acl")
	for _, row := range item.ACL {
		sm, err := getMailboxTx(t.tx, row.MailboxID)
		if err != nil || sm.Deleted != nil || accts.Get([]byte(row.Member)) == nil || sm.Owner == row.Member {
			continue
		}
		if err := aclB.Put(aclKey(row.MailboxID, row.Member), []byte(row.Rights)); err != nil {
			return err
		}
		t.Publish(Event{Kind: EventACL, MailboxID: row.MailboxID, Member: row.Member})
	}
	if mb.Kind == MailboxShared {
		t.Audit(mb.ID, AuditEntry{Actor: "admin", Action: "restore"})
	}
	t.Publish(Event{Kind: EventMailbox, MailboxID: mb.ID})
	return nil
}

// mergeIntoLive moves the folders of trashed mailbox src into the live
// mailbox at item.Address, under Restored/<name>, then drops src. Folders
// keep their ids and messages (no body is copied); each gets a fresh
// UIDVALIDITY since it is new to the clients of the target mailbox.
func (t *Tx) mergeIntoLive(item *TrashItem, src *Mailbox) error {
	dst, err := liveMailboxTx(t.tx, item.Address)
	if err != nil {
		return fmt.Errorf("cannot restore item %d: %s has no mailbox any more: %w", item.ID, item.Address, ErrNotFound)
	}
	folders := bucket(t.tx, "folders")
	sb, db := folders.Bucket(u64(src.ID)), folders.Bucket(u64(dst.ID))
	var moves []*Folder
	if err := sb.ForEach(func(k, _ []byte) error {
		var f Folder
		if _, err := getJSON(sb, k, &f); err != nil {
			return err
		}
		moves = append(moves, &f)
		return nil
	}); err != nil {
		return err
	}
	for _, f := range moves {
		name := RestoredPrefix + FolderDelim + f.Name
		for n := 2; db.Get([]byte(name)) != nil; n++ {
			name = fmt.Sprintf("%s%s%s (%d)", RestoredPrefix, FolderDelim, f.Name, n)
		}
		f.MailboxID, f.Name, f.SpecialUse = dst.ID, name, ""
		f.Subscribed = true // server-made, shown in clients that list subscribed folders only (client_folder.go)
		f.UIDValidity = t.nextUIDValidity()
		if err := putJSON(db, []byte(name), f); err != nil {
			return err
		}
		if err := bucket(t.tx, "folderids").Put(u64(f.ID), append(u64(dst.ID), name...)); err != nil {
			return err
		}
		t.Publish(Event{Kind: EventFolders, MailboxID: dst.ID, FolderID: f.ID})
	}
	if err := folders.DeleteBucket(u64(src.ID)); err != nil {
		return err
	}
	return bucket(t.tx, "mailboxes").Delete(u64(src.ID))
}

// PurgeTrash deletes recycle-bin item id for good: its folders, messages
// (dropping body references; files go when no other message shares them),
// audit log, remaining rights and the mailbox record.
func (s *Store) PurgeTrash(ctx context.Context, id uint64) error {
	return s.update(ctx, func(t *Tx) error {
		item, err := getTrashTx(t.tx, id)
		if err != nil {
			return err
		}
		return t.purge(item)
	})
}

func (t *Tx) purge(item *TrashItem) error {
	mbid := item.MailboxID
	if mb, err := getMailboxTx(t.tx, mbid); err == nil && mb.Deleted == nil {
		// Never purge a live mailbox (e.g. a stale item after a restore).
		return fmt.Errorf("recycle bin item %d: mailbox %s is live, not purging", item.ID, mb.Address)
	}
	folders := bucket(t.tx, "folders")
	if fb := folders.Bucket(u64(mbid)); fb != nil {
		var fs []*Folder
		if err := fb.ForEach(func(k, _ []byte) error {
			var f Folder
			if _, err := getJSON(fb, k, &f); err != nil {
				return err
			}
			fs = append(fs, &f)
			return nil
		}); err != nil {
			return err
		}
		for _, f := range fs {
			if err := t.deleteFolder(f); err != nil {
				return err
			}
		}
		if err := folders.DeleteBucket(u64(mbid)); err != nil {
			return err
		}
	}
	for _, name := range []string{"acl", "audit"} {
		if err := deletePrefix(bucket(t.tx, name), u64(mbid)); err != nil {
			return err
		}
	}
	if err := t.deleteSpamState(mbid); err != nil {
		return err
	}
	if err := bucket(t.tx, "mailboxes").Delete(u64(mbid)); err != nil {
		return err
	}
	return bucket(t.tx, "trash").Delete(u64(item.ID))
}

func deletePrefix(b kv.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// PurgeExpired purges every recycle-bin item deleted more than retention
// ago (by the store's clock) and returns them. The server runs it daily
// with retention.recycle_bin_days; `trash purge --older-than` uses it too.
// Each item is purged in its own transaction so one huge mailbox does not
// hold up other writers for long, and a failure leaves the rest done.
func (s *Store) PurgeExpired(ctx context.Context, retention time.Duration) ([]TrashItem, error) {
	items, err := s.Trash(ctx)
	if err != nil {
		return nil, err
	}
	cutoff := s.now().Add(-retention)
	var purged []TrashItem
	var errs []string
	for _, it := range items {
		if it.DeletedAt.After(cutoff) {
			continue
		}
		if err := s.PurgeTrash(ctx, it.ID); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		purged = append(purged, it)
	}
	if len(errs) > 0 {
		return purged, fmt.Errorf("purge recycle bin: %s", strings.Join(errs, "; "))
	}
	return purged, nil
}
