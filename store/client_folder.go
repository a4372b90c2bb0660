package store

import "context"

// Folders a client creates are not subscribed (RFC 3501 §6.3.3, RFC 9051
// §6.3.4: CREATE and SUBSCRIBE are separate commands, and Dovecot does
// not subscribe either); folders the server makes for a user are:
// an account's or shared mailbox's default folders, "Backup/<addr>/…"
// of `mailbox backup`, "Restored/…" of a trash restore. Thunderbird shows
// only subscribed folders by default and subscribes to what it creates
// itself, so both kinds show where their makers expect them.

// CreateClientFolder creates folder name in mailbox mbid for an IMAP
// CREATE without subscribing to it. member is "" when the session owns
// the mailbox (its own account, or a shared mailbox's self-login): the
// folder's own subscription is off, unless the name was subscribed
// before it existed (a subscription that outlived a deleted folder,
// RFC 3501 §6.3.6). Otherwise member is the delegate who created it in
// a shared mailbox: the folder stays subscribed for the mailbox's other
// members, as every folder of a shared mailbox is when a member is
// granted, and only the creator gets an "unsubscribed" override
// (usersubs.go).
func (s *Store) CreateClientFolder(ctx context.Context, mbid uint64, name, member string) (*Folder, error) {
	if member != "" {
		var err error
		if member, err = NormalizeAddress(member); err != nil {
			return nil, err
		}
	}
	var f *Folder
	err := s.update(ctx, func(t *Tx) error {
		wasSubscribed := bucket(t.tx, "subnames").Get(subNameKey(mbid, canonicalFolder(name))) != nil
		var err error
		if f, err = t.createFolder(mbid, name, ""); err != nil {
			return err
		}
		if member != "" {
			return bucket(t.tx, "usersubs").Put(userSubKey(member, f.ID), []byte("0"))
		}
		f.Subscribed = wasSubscribed
		return t.putFolder(f)
	})
	return f, err
}
