package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"mailsrv/store/kv"
)

// FolderDelim is the hierarchy delimiter inside a mailbox.
const FolderDelim = "/"

// Folder is one IMAP folder of a mailbox.
type Folder struct {
	ID          uint64    `json:"id"`
	MailboxID   uint64    `json:"mailbox_id"`
	Name        string    `json:"name"`
	UIDValidity uint32    `json:"uid_validity"`
	UIDNext     uint32    `json:"uid_next"`
	SpecialUse  string    `json:"special_use,omitempty"`
	Subscribed  bool      `json:"subscribed"`
	Messages    uint32    `json:"messages"`
	Unseen      uint32    `json:"unseen"`
	Size        int64     `json:"size"`
	Created     time.Time `json:"created"`
	// Keywords are the non-system flags ever set on a message of the
	// folder, in first-use order: IMAP's FLAGS response lists them, and
	// a client must hear of one before a FETCH shows it (RFC 3501 §7.2.6).
	Keywords []string `json:"keywords,omitempty"`
	// HighestModSeq is the folder's RFC 7162 mod-sequence (modseq.go);
	// TombFloor the newest modseq whose expunge tombstones were pruned,
	// Tombstones how many are kept.
	HighestModSeq uint64 `json:"modseq,omitempty"`
	TombFloor     uint64 `json:"tomb_floor,omitempty"`
	Tombstones    uint32 `json:"tombstones,omitempty"`
	// RecentUID is the folder's \Recent boundary (recent.go).
	RecentUID uint32 `json:"recent_uid,omitempty"`
}

// noteKeywords adds the keywords among flags that f does not list yet to
// f.Keywords (the caller saves f) and returns them.
func (f *Folder) noteKeywords(flags []string) []string {
	var added []string
	for _, fl := range flags {
		if fl == "" || fl[0] == '\\' || slices.Contains(f.Keywords, fl) {
			continue
		}
		f.Keywords = append(f.Keywords, fl)
		added = append(added, fl)
	}
	return added
}

// canonicalFolder makes "inbox" in any case the canonical "INBOX".
func canonicalFolder(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	if len(name) > 6 && strings.EqualFold(name[:6], "INBOX/") {
		return "INBOX" + name[5:]
	}
	return name
}

func validFolderName(name string) error {
	if name == "" || strings.HasPrefix(name, FolderDelim) || strings.HasSuffix(name, FolderDelim) || strings.Contains(name, "//") {
		return errorf(ErrInvalid, "invalid folder name %q", name)
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return errorf(ErrInvalid, "invalid folder name %q: control character", name)
		}
	}
	if len(name) > 512 {
		return errorf(ErrInvalid, "folder name too long")
	}
	return nil
}

// nextUIDValidity returns a fresh UIDVALIDITY, strictly increasing across
// the database, so a folder deleted and re-created never reuses one.
func (t *Tx) nextUIDValidity() uint32 {
	meta := bucket(t.tx, "meta")
	v := uint32(t.s.now().Unix())
	if last := meta.Get([]byte("uidvalidity")); last != nil && getU32(last) >= v {
		v = getU32(last) + 1
	}
	meta.Put([]byte("uidvalidity"), u32(v))
	return v
}

func (t *Tx) createFolder(mbid uint64, name, specialUse string) (*Folder, error) {
	name = canonicalFolder(name)
	if err := validFolderName(name); err != nil {
		return nil, err
	}
	fb := bucket(t.tx, "folders").Bucket(u64(mbid))
	if fb == nil {
		return nil, fmt.Errorf("mailbox %d: %w", mbid, ErrNotFound)
	}
	if fb.Get([]byte(name)) != nil {
		return nil, fmt.Errorf("folder %s: %w", name, ErrExists)
	}
	id, err := bucket(t.tx, "folderids").NextSequence()
	if err != nil {
		return nil, err
	}
	f := &Folder{ID: id, MailboxID: mbid, Name: name, UIDValidity: t.nextUIDValidity(), UIDNext: 1, HighestModSeq: 1,
		SpecialUse: specialUse, Subscribed: true, Created: t.s.now().UTC()}
	if _, err := t.setSubName(mbid, name, false); err != nil {
		return nil, err // the folder takes its name's subscription back
	}
	if err := putJSON(fb, []byte(name), f); err != nil {
		return nil, err
	}
	if err := bucket(t.tx, "folderids").Put(u64(id), append(u64(mbid), name...)); err != nil {
		return nil, err
	}
	mb, err := bucket(t.tx, "msgs").CreateBucket(u64(id))
	if err != nil {
		return nil, err
	}
	if _, err := mb.CreateBucket(bktRecords); err != nil {
		return nil, err
	}
	if _, err := mb.CreateBucket(bktFlags); err != nil {
		return nil, err
	}
	t.Publish(Event{Kind: EventFolders, MailboxID: mbid, FolderID: id})
	return f, nil
}

func (t *Tx) putFolder(f *Folder) error {
	fb := bucket(t.tx, "folders").Bucket(u64(f.MailboxID))
	return putJSON(fb, []byte(f.Name), f)
}

func getFolderTx(tx kv.Tx, mbid uint64, name string) (*Folder, error) {
	name = canonicalFolder(name)
	fb := bucket(tx, "folders").Bucket(u64(mbid))
	if fb == nil {
		return nil, fmt.Errorf("mailbox %d: %w", mbid, ErrNotFound)
	}
	var f Folder
	ok, err := getJSON(fb, []byte(name), &f)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("folder %s: %w", name, ErrNotFound)
	}
	return &f, nil
}

func getFolderByIDTx(tx kv.Tx, fid uint64) (*Folder, error) {
	ref := bucket(tx, "folderids").Get(u64(fid))
	if ref == nil {
		return nil, fmt.Errorf("folder id %d: %w", fid, ErrNotFound)
	}
	return getFolderTx(tx, getU64(ref[:8]), string(ref[8:]))
}

// GetFolder returns a folder by mailbox and name ("inbox" in any case is INBOX).
func (s *Store) GetFolder(ctx context.Context, mbid uint64, name string) (*Folder, error) {
	var f *Folder
	err := s.view(ctx, func(tx kv.Tx) error {
		var err error
		f, err = getFolderTx(tx, mbid, name)
		return err
	})
	return f, err
}

// FolderByID returns a folder by its id.
func (s *Store) FolderByID(ctx context.Context, fid uint64) (*Folder, error) {
	var f *Folder
	err := s.view(ctx, func(tx kv.Tx) error {
		var err error
		f, err = getFolderByIDTx(tx, fid)
		return err
	})
	return f, err
}

// Folders lists a mailbox's folders, INBOX first, then by name.
func (s *Store) Folders(ctx context.Context, mbid uint64) ([]Folder, error) {
	var out []Folder
	err := s.view(ctx, func(tx kv.Tx) error {
		fb := bucket(tx, "folders").Bucket(u64(mbid))
		if fb == nil {
			return fmt.Errorf("mailbox %d: %w", mbid, ErrNotFound)
		}
		return fb.ForEach(func(k, _ []byte) error {
			var f Folder
			if _, err := getJSON(fb, k, &f); err != nil {
				return err
			}
			out = append(out, f)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool {
		if (out[i].Name == "INBOX") != (out[j].Name == "INBOX") {
			return out[i].Name == "INBOX"
		}
		return out[i].Name < out[j].Name
	})
	return out, err
}

// CreateFolder creates a folder (parents are implied, not created).
func (s *Store) CreateFolder(ctx context.Context, mbid uint64, name, specialUse string) (*Folder, error) {
	var f *Folder
	err := s.update(ctx, func(t *Tx) error {
		var err error
		f, err = t.createFolder(mbid, name, specialUse)
		return err
	})
	return f, err
}

// DeleteFolder deletes a folder and its messages. INBOX cannot be deleted.
// Sub-folders are kept (IMAP allows a parent to disappear).
func (s *Store) DeleteFolder(ctx context.Context, mbid uint64, name string) error {
	name = canonicalFolder(name)
	if name == "INBOX" {
		return errorf(ErrInvalid, "INBOX cannot be deleted")
	}
	return s.update(ctx, func(t *Tx) error {
		f, err := getFolderTx(t.tx, mbid, name)
		if err != nil {
			return err
		}
		return t.deleteFolder(f)
	})
}

func (t *Tx) deleteFolder(f *Folder) error {
	msgs := bucket(t.tx, "msgs").Bucket(u64(f.ID))
	if msgs != nil {
		mb := msgs.Bucket(bktRecords)
		if err := mb.ForEach(func(k, v []byte) error {
			var m Message
			if _, err := getJSON(mb, k, &m); err != nil {
				return err
			}
			return t.unrefBlob(m.Blob)
		}); err != nil {
			return err
		}
		if err := bucket(t.tx, "msgs").DeleteBucket(u64(f.ID)); err != nil {
			return err
		}
	}
	bucket(t.tx, "folderids").Delete(u64(f.ID))
	if f.Subscribed {
		// The subscription outlives the folder (subnames.go).
		if _, err := t.setSubName(f.MailboxID, f.Name, true); err != nil {
			return err
		}
	}
	t.Publish(Event{Kind: EventFolders, MailboxID: f.MailboxID, FolderID: f.ID})
	return bucket(t.tx, "folders").Bucket(u64(f.MailboxID)).Delete([]byte(f.Name))
}

// RenameFolder renames a folder and its sub-folders. Renaming INBOX moves
// its messages into a new folder and leaves INBOX empty (RFC 3501 6.3.5).
func (s *Store) RenameFolder(ctx context.Context, mbid uint64, oldName, newName string) error {
	oldName, newName = canonicalFolder(oldName), canonicalFolder(newName)
	if err := validFolderName(newName); err != nil {
		return err
	}
	return s.update(ctx, func(t *Tx) error {
		fb := bucket(t.tx, "folders").Bucket(u64(mbid))
		if fb == nil {
			return fmt.Errorf("mailbox %d: %w", mbid, ErrNotFound)
		}
		if fb.Get([]byte(newName)) != nil {
			return fmt.Errorf("folder %s: %w", newName, ErrExists)
		}
		src, err := getFolderTx(t.tx, mbid, oldName)
		if err != nil {
			return err
		}
		if oldName == "INBOX" {
			return t.renameInbox(src, newName)
		}
		// Collect the folder and its children first: never mutate a
		// bucket while iterating it.
		var moves []*Folder
		prefix := []byte(oldName + FolderDelim)
		c := fb.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if string(k) == oldName || bytes.HasPrefix(k, prefix) {
				var f Folder
				if _, err := getJSON(fb, k, &f); err != nil {
					return err
				}
				moves = append(moves, &f)
			}
		}
		for _, f := range moves {
			to := newName + f.Name[len(oldName):]
			if fb.Get([]byte(to)) != nil {
				return fmt.Errorf("folder %s: %w", to, ErrExists)
			}
			if err := fb.Delete([]byte(f.Name)); err != nil {
				return err
			}
			f.Name = to
			if err := t.putFolder(f); err != nil {
				return err
			}
			if err := bucket(t.tx, "folderids").Put(u64(f.ID), append(u64(mbid), to...)); err != nil {
				return err
			}
		}
		t.Publish(Event{Kind: EventFolders, MailboxID: mbid, FolderID: src.ID})
		return nil
	})
}

// renameInbox gives INBOX's messages (and id) to the new folder and makes
// a fresh, empty INBOX.
func (t *Tx) renameInbox(inbox *Folder, newName string) error {
	fb := bucket(t.tx, "folders").Bucket(u64(inbox.MailboxID))
	if err := fb.Delete([]byte("INBOX")); err != nil {
		return err
	}
	moved := *inbox
	moved.Name = newName
	moved.SpecialUse = ""
	if err := t.putFolder(&moved); err != nil {
		return err
	}
	if err := bucket(t.tx, "folderids").Put(u64(moved.ID), append(u64(moved.MailboxID), newName...)); err != nil {
		return err
	}
	_, err := t.createFolder(inbox.MailboxID, "INBOX", "")
	return err
}

// SetSubscribed sets the subscription of a name in mailbox mbid: of its
// folder, or of the name alone when there is none (subnames.go).
func (s *Store) SetSubscribed(ctx context.Context, mbid uint64, name string, on bool) error {
	if err := validFolderName(canonicalFolder(name)); err != nil {
		return err
	}
	return s.update(ctx, func(t *Tx) error { return t.setSubscribedTx(mbid, name, on) })
}
