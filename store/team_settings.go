package store

import (
	"context"
	"strings"
	"time"
)

// AutoReply is an automatic answer to incoming mail (RFC 3834): the
// auto-acknowledgement of a shared mailbox (`shared set
// --auto-reply-file`) or the vacation notice of a personal one
// (`vacation set`). The decision whom to answer is made by the MX at
// delivery; the store keeps the text and whom it answered when.
type AutoReply struct {
	Subject string    `json:"subject,omitempty"` // "" = "Auto: " + the original's subject
	Body    string    `json:"body"`
	Until   time.Time `json:"until,omitzero"` // zero = until turned off
}

// Active reports whether the reply is to be sent at now.
func (a *AutoReply) Active(now time.Time) bool {
	return a != nil && strings.TrimSpace(a.Body) != "" && (a.Until.IsZero() || now.Before(a.Until))
}

// updateMailbox rewrites mailbox mbid's record with edit in one
// transaction and audits entry (when Action is set and the mailbox is
// shared).
func (s *Store) updateMailbox(ctx context.Context, mbid uint64, edit func(*Mailbox) error, entry AuditEntry) (*Mailbox, error) {
	var out *Mailbox
	err := s.update(ctx, func(t *Tx) error {
		mb, err := getMailboxTx(t.tx, mbid)
		if err != nil {
			return err
		}
		if mb.Deleted != nil {
			return errorf(ErrNotFound, "mailbox %s is in the recycle bin", mb.Address)
		}
		if err := edit(mb); err != nil {
			return err
		}
		if err := t.putMailbox(mb); err != nil {
			return err
		}
		if entry.Action != "" && mb.Kind == MailboxShared {
			t.Audit(mbid, entry)
		}
		out = mb
		return nil
	})
	return out, err
}

// SetAutoReply sets (ar nil: removes) mailbox mbid's automatic reply.
// A new text forgets whom the old one answered, so every sender hears
// of the change once.
func (s *Store) SetAutoReply(ctx context.Context, mbid uint64, ar *AutoReply, actor string) (*Mailbox, error) {
	action := "auto-reply off"
	if ar != nil {
		action = "auto-reply on"
	}
	return s.updateMailbox(ctx, mbid, func(mb *Mailbox) error {
		mb.AutoReply = ar
		return nil
	}, AuditEntry{Actor: actor, Action: action})
}

// SetRemindAfter sets shared mailbox mbid's reminder threshold (0 = none).
func (s *Store) SetRemindAfter(ctx context.Context, mbid uint64, d time.Duration, actor string) (*Mailbox, error) {
	return s.updateMailbox(ctx, mbid, func(mb *Mailbox) error {
		if mb.Kind != MailboxShared {
			return errorf(ErrInvalid, "%s is a personal mailbox: reminders are for shared ones", mb.Address)
		}
		mb.RemindAfter = d
		return nil
	}, AuditEntry{Actor: actor, Action: "remind-after", Detail: d.String()})
}

// ClaimAutoReply records that mailbox mbid answers sender now, unless it
// already did within every: then it returns false and records nothing.
// The record survives restarts, so a sender hears one auto-reply per
// period however often they write (RFC 3834 §2).
func (s *Store) ClaimAutoReply(ctx context.Context, mbid uint64, sender string, every time.Duration) (bool, error) {
	sender = strings.ToLower(strings.TrimSpace(sender))
	return s.claim(ctx, "replied", append(u64(mbid), sender...), s.now(), every)
}

// ClaimDigest is ClaimAutoReply for the reminder digest of shared
// mailbox mbid at now: at most one per every.
func (s *Store) ClaimDigest(ctx context.Context, mbid uint64, now time.Time, every time.Duration) (bool, error) {
	return s.claim(ctx, "remind", u64(mbid), now, every)
}

func (s *Store) claim(ctx context.Context, bucketName string, key []byte, now time.Time, every time.Duration) (bool, error) {
	var ok bool
	err := s.update(ctx, func(t *Tx) error {
		b := bucket(t.tx, bucketName)
		ok = false
		if v := b.Get(key); len(v) == 8 && now.Before(time.Unix(int64(getU64(v)), 0).Add(every)) {
			return nil
		}
		ok = true
		return b.Put(key, u64(uint64(now.Unix())))
	})
	return ok, err
}

// PruneAutoReplies forgets the automatic replies sent before cutoff (one
// record per mailbox and sender would otherwise accumulate forever); a
// sender forgotten this way is answered again, as the period has passed.
func (s *Store) PruneAutoReplies(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	err := s.update(ctx, func(t *Tx) error {
		n = 0
		b := bucket(t.tx, "replied")
		var old [][]byte
		b.ForEach(func(k, v []byte) error {
			if len(v) == 8 && time.Unix(int64(getU64(v)), 0).Before(cutoff) {
				old = append(old, append([]byte(nil), k...))
			}
			return nil
		})
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(old)
		return nil
	})
	return n, err
}
