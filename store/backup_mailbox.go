package store

import (
	"context"
	"encoding/json"
	"fmt"

	"mailsrv/store/kv"
)

// BackupPrefix is the folder under which BackupMailbox files copies.
const BackupPrefix = "Backup"

// backupChunk bounds how many messages one backup transaction copies, so
// a large mailbox does not stall other writers in one huge commit.
const backupChunk = 500

// BackupResult counts what BackupMailbox did.
type BackupResult struct {
	Folders int `json:"folders"` // source folders visited
	Copied  int `json:"copied"`  // messages copied now
	Skipped int `json:"skipped"` // already present from an earlier run
}

// BackupMailbox copies every folder F of the live mailbox at src into the
// live mailbox at dst as "Backup/<src>/F", keeping flags, internal dates
// and the exact bytes (bodies are shared by reference, never duplicated).
// src is not modified.
//
// It is idempotent: a message is recognised as already copied when the
// destination folder holds a message with the same body (blob id) — counted,
// so two source messages sharing one body are both copied once. Re-running
// after new mail arrived copies only the new messages.
func (s *Store) BackupMailbox(ctx context.Context, src, dst, actor string) (*BackupResult, error) {
	return s.BackupMailboxProgress(ctx, src, dst, actor, nil)
}

// BackupMailboxProgress is BackupMailbox calling progress (if set) after
// each chunk with the counts so far. A backup from or into a shared
// mailbox is an entry of that mailbox's audit log.
func (s *Store) BackupMailboxProgress(ctx context.Context, src, dst, actor string, progress func(BackupResult)) (*BackupResult, error) {
	sa, err := NormalizeAddress(src)
	if err != nil {
		return nil, err
	}
	da, err := NormalizeAddress(dst)
	if err != nil {
		return nil, err
	}
	if sa == da {
		return nil, fmt.Errorf("cannot back up %s into itself", sa)
	}
	var smb, dmb *Mailbox
	err = s.view(ctx, func(tx kv.Tx) error {
		var err error
		if smb, err = liveMailboxTx(tx, sa); err != nil {
			return fmt.Errorf("source: %w", err)
		}
		if dmb, err = liveMailboxTx(tx, da); err != nil {
			return fmt.Errorf("destination: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	folders, err := s.Folders(ctx, smb.ID)
	if err != nil {
		return nil, err
	}
	res := &BackupResult{}
	for _, f := range folders {
		res.Folders++
		target := BackupPrefix + FolderDelim + sa + FolderDelim + f.Name
		if err := s.backupFolder(ctx, f.ID, dmb.ID, target, actor, res, progress); err != nil {
			return res, fmt.Errorf("back up folder %s: %w", f.Name, err)
		}
	}
	if smb.Kind == MailboxShared || dmb.Kind == MailboxShared {
		err := s.update(ctx, func(t *Tx) error {
			if smb.Kind == MailboxShared {
				t.Audit(smb.ID, AuditEntry{Actor: actor, Action: "backup",
					Detail: fmt.Sprintf("copied to %s under %s/%s/: %d messages copied, %d already there", da, BackupPrefix, sa, res.Copied, res.Skipped)})
			}
			if dmb.Kind == MailboxShared {
				t.Audit(dmb.ID, AuditEntry{Actor: actor, Action: "backup",
					Detail: fmt.Sprintf("from %s: %d messages", sa, res.Copied)})
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("audit the backup: %w", err)
		}
	}
	return res, nil
}

// backupFolder copies one source folder in chunks of backupChunk UIDs.
func (s *Store) backupFolder(ctx context.Context, srcFID, dstMB uint64, target, actor string, res *BackupResult, progress func(BackupResult)) error {
	var after uint32 // last source UID handled
	for {
		done := false
		var copied, skipped int
		var last uint32
		err := s.update(ctx, func(t *Tx) error {
			copied, skipped, last, done = 0, 0, after, false
			df, err := getFolderTx(t.tx, dstMB, target)
			if err != nil {
				if df, err = t.createFolder(dstMB, target, ""); err != nil {
					return err
				}
			}
			// Bodies already in the destination folder, with multiplicity.
			have := map[string]int{}
			dm := bucket(t.tx, "msgs").Bucket(u64(df.ID)).Bucket(bktRecords)
			if err := dm.ForEach(func(k, _ []byte) error {
				var m Message
				if _, err := getJSON(dm, k, &m); err != nil {
					return err
				}
				have[m.Blob]++
				return nil
			}); err != nil {
				return err
			}
			sm := bucket(t.tx, "msgs").Bucket(u64(srcFID))
			if sm == nil {
				return fmt.Errorf("folder id %d: %w", srcFID, ErrNotFound)
			}
			smm, sfl := sm.Bucket(bktRecords), sm.Bucket(bktFlags)
			// Skip-counting must see every earlier source message too, so
			// multiplicity is consumed in UID order from the start.
			c := smm.Cursor()
			n := 0
			for k, v := c.First(); k != nil; k, v = c.Next() {
				uid := getU32(k)
				var m Message
				if err := json.Unmarshal(v, &m); err != nil {
					return err
				}
				if have[m.Blob] > 0 {
					have[m.Blob]--
					if uid > after {
						skipped++
						last = uid
					}
					continue
				}
				if uid <= after {
					continue // copied by an earlier chunk of this run (have counted it)
				}
				if n == backupChunk {
					return nil
				}
				flags := splitFlags(sfl.Get(k))
				m.UID = 0
				if _, err := t.addMessage(df, &m, flags); err != nil {
					return err
				}
				copied++
				n++
				last = uid
			}
			done = true
			return nil
		})
		if err != nil {
			return err
		}
		res.Copied += copied
		res.Skipped += skipped
		after = last
		if progress != nil {
			progress(*res)
		}
		if done {
			return nil
		}
	}
}
