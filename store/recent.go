package store

// The \Recent boundary of a folder (RFC 3501 §2.3.2, IMAP4rev1 only).
//
// A message is \Recent in exactly one IMAP session: the first that selects
// the folder (or is told of the message while it has the folder selected)
// after the message arrived. The store keeps one UID per folder,
// Folder.RecentUID: every message at or below it has already been claimed
// by some session. Keeping it in the folder record, as Dovecot keeps it in
// its index, means a restart neither makes old mail \Recent again nor
// loses a claim; the cost is one small write when a session claims new
// messages, never when there is nothing new. Folders stored before the
// field existed start at 0: their messages are \Recent once, to the first
// session that selects them after the upgrade.

import (
	"context"
	"mailsrv/store/kv"
)

// ClaimRecent raises folder fid's \Recent boundary to upTo, the highest
// UID the calling session knows of, and returns the previous boundary:
// the messages with prev < UID <= upTo are \Recent in that session and in
// no other. When the boundary is already at or above upTo nothing is
// written and prev >= upTo (the session claims nothing).
func (s *Store) ClaimRecent(ctx context.Context, fid uint64, upTo uint32) (prev uint32, err error) {
	if err := s.view(ctx, func(tx kv.Tx) error {
		f, err := getFolderByIDTx(tx, fid)
		if err != nil {
			return err
		}
		prev = f.RecentUID
		return nil
	}); err != nil || prev >= upTo {
		return prev, err
	}
	err = s.update(ctx, func(t *Tx) error {
		f, err := getFolderByIDTx(t.tx, fid)
		if err != nil {
			return err
		}
		prev = f.RecentUID
		if prev >= upTo {
			return nil
		}
		f.RecentUID = upTo
		return t.putFolder(f)
	})
	return prev, err
}
