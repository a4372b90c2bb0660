package store

import (
	"context"
	"errors"

	"mailsrv/store/kv"
)

// Subscriptions that outlive their folder (RFC 3501 §6.3.6, §6.3.9): a
// subscription is a name, and the server must not drop it when the folder
// goes, nor refuse one to a name that does not exist (yet). A folder's
// own Subscribed flag holds the subscription while the folder exists;
// "subnames" holds it for names without a folder:
//
//	subnames  mailbox id u64 ++ folder name → "1"
//
// Deleting a subscribed folder moves its subscription here, creating the
// folder again takes it back.

func subNameKey(mbid uint64, name string) []byte { return append(u64(mbid), name...) }

// SubscribedNames returns mailbox mbid's subscribed names that have no
// folder.
func (s *Store) SubscribedNames(ctx context.Context, mbid uint64) ([]string, error) {
	var out []string
	err := s.view(ctx, func(tx kv.Tx) error {
		c := bucket(tx, "subnames").Cursor()
		p := u64(mbid)
		for k, _ := c.Seek(p); k != nil && len(k) >= 8 && string(k[:8]) == string(p); k, _ = c.Next() {
			out = append(out, string(k[8:]))
		}
		return nil
	})
	return out, err
}

// setSubName records or drops a folderless subscription; it reports
// whether one existed before.
func (t *Tx) setSubName(mbid uint64, name string, on bool) (bool, error) {
	b := bucket(t.tx, "subnames")
	k := subNameKey(mbid, name)
	had := b.Get(k) != nil
	if on {
		return had, b.Put(k, []byte("1"))
	}
	return had, b.Delete(k)
}

// setSubscribedTx sets the subscription of name in mbid, on the folder
// when it exists, else as a folderless name.
func (t *Tx) setSubscribedTx(mbid uint64, name string, on bool) error {
	f, err := getFolderTx(t.tx, mbid, name)
	if errors.Is(err, ErrNotFound) {
		had, err := t.setSubName(mbid, canonicalFolder(name), on)
		if err == nil && !on && !had {
			return errorf(ErrNotFound, "not subscribed to %s", name)
		}
		return err
	}
	if err != nil {
		return err
	}
	f.Subscribed = on
	return t.putFolder(f)
}
