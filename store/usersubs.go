package store

import (
	"bytes"
	"context"

	"mailsrv/store/kv"
)

// Subscriptions to folders of another mailbox (a shared mailbox seen under
// Shared/, or through a delegate login) belong to the member, not to the
// folder: when one member unsubscribes from info@'s Junk, the others must
// still see it. The folder's own Subscribed flag is the default (true for
// the standard folders, so a new member's client shows the shared mailbox
// at once, like Exchange's automapping); a member's SUBSCRIBE/UNSUBSCRIBE
// is stored in "usersubs" as an override:
//
//	usersubs  member address ++ 0x00 ++ folder id u64 → "1" or "0"
//
// Overrides of deleted folders are harmless (folder ids are never reused)
// and are dropped with the member's account.

func userSubKey(user string, fid uint64) []byte {
	return append(append([]byte(user), 0), u64(fid)...)
}

// SetUserSubscribed records user's own subscription to folder fid.
func (s *Store) SetUserSubscribed(ctx context.Context, user string, fid uint64, on bool) error {
	user, err := NormalizeAddress(user)
	if err != nil {
		return err
	}
	return s.update(ctx, func(t *Tx) error {
		if _, err := getFolderByIDTx(t.tx, fid); err != nil {
			return err
		}
		v := []byte("0")
		if on {
			v = []byte("1")
		}
		return bucket(t.tx, "usersubs").Put(userSubKey(user, fid), v)
	})
}

// UserSubscriptions returns user's overrides: folder id → subscribed.
func (s *Store) UserSubscriptions(ctx context.Context, user string) (map[uint64]bool, error) {
	user, err := NormalizeAddress(user)
	if err != nil {
		return nil, err
	}
	out := map[uint64]bool{}
	prefix := append([]byte(user), 0)
	err = s.view(ctx, func(tx kv.Tx) error {
		c := bucket(tx, "usersubs").Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(k) == len(prefix)+8 {
				out[getU64(k[len(prefix):])] = string(v) == "1"
			}
		}
		return nil
	})
	return out, err
}

// dropUserSubscriptionsTx removes user's overrides (account removal).
func dropUserSubscriptionsTx(tx kv.Tx, user string) error {
	b := bucket(tx, "usersubs")
	prefix := append([]byte(user), 0)
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
