package store

import (
	"context"
	"errors"
	"fmt"

	"mailsrv/store/kv"
)

// Quotas (RFC 9208's STORAGE and MESSAGE resources, SPEC §3 quota_bytes,
// §4 `quota set|show`).
//
// Usage is not a second counter: it is the sum of the mailbox's folder
// records (Folder.Size, Folder.Messages), which every append, copy, move,
// expunge, folder delete and recycle-bin purge already updates in its own
// transaction. There is nothing to drift and nothing to migrate: a data
// directory from before quotas has the same folder records. A shared
// mailbox's usage is its own folders', never its members'.
//
// Limits live in the additive "quota" bucket: mailbox id → QuotaLimit. A
// mailbox without a row has the server default (Store.SetDefaultQuota,
// from [limits] quota_bytes); 0 means unlimited.

// ErrOverQuota is returned when an enforced delivery, copy or move would
// take a mailbox over its quota; nothing of that change is stored.
var ErrOverQuota = errors.New("over quota")

// QuotaLimit is a mailbox's own limits; 0 = unlimited.
type QuotaLimit struct {
	Bytes    int64 `json:"bytes"`
	Messages int64 `json:"messages,omitempty"`
}

// Quota is a mailbox's usage and limits.
type Quota struct {
	Bytes         int64 `json:"bytes"`
	Messages      int64 `json:"messages"`
	LimitBytes    int64 `json:"limit_bytes"`    // 0 = unlimited
	LimitMessages int64 `json:"limit_messages"` // 0 = unlimited
	Default       bool  `json:"default"`        // the limit is the server default
}

// Over reports whether adding bytes and msgs more would exceed q.
func (q Quota) Over(bytes, msgs int64) bool {
	return q.LimitBytes > 0 && q.Bytes+bytes > q.LimitBytes ||
		q.LimitMessages > 0 && q.Messages+msgs > q.LimitMessages
}

// SetDefaultQuota sets the storage limit of every mailbox without its own
// (config [limits] quota_bytes); 0 = unlimited.
func (s *Store) SetDefaultQuota(bytes int64) { s.quotaDefault.Store(bytes) }

// QuotaOf returns mailbox mbid's usage and limits.
func (s *Store) QuotaOf(ctx context.Context, mbid uint64) (Quota, error) {
	var q Quota
	err := s.view(ctx, func(tx kv.Tx) error {
		var err error
		q, err = s.quotaTx(tx, mbid)
		return err
	})
	return q, err
}

// SetQuota gives mailbox mbid its own limits (audited as "quota").
func (s *Store) SetQuota(ctx context.Context, mbid uint64, lim QuotaLimit, actor string) error {
	if lim.Bytes < 0 || lim.Messages < 0 {
		return errors.New("a quota cannot be negative (0 = unlimited)")
	}
	return s.update(ctx, func(t *Tx) error {
		mb, err := getMailboxTx(t.tx, mbid)
		if err != nil {
			return err
		}
		if mb.Deleted != nil {
			return errorf(ErrNotFound, "mailbox %s is in the recycle bin", mb.Address)
		}
		if err := putJSON(bucket(t.tx, "quota"), u64(mbid), lim); err != nil {
			return err
		}
		t.Audit(mbid, AuditEntry{Actor: actor, Action: "quota", Detail: fmt.Sprintf("bytes=%d messages=%d", lim.Bytes, lim.Messages)})
		return nil
	})
}

func (s *Store) quotaTx(tx kv.Tx, mbid uint64) (Quota, error) {
	q := Quota{LimitBytes: s.quotaDefault.Load(), Default: true}
	var lim QuotaLimit
	ok, err := getJSON(bucket(tx, "quota"), u64(mbid), &lim)
	if err != nil {
		return q, err
	}
	if ok {
		q.LimitBytes, q.LimitMessages, q.Default = lim.Bytes, lim.Messages, false
	}
	fb := bucket(tx, "folders").Bucket(u64(mbid))
	if fb == nil {
		return q, fmt.Errorf("mailbox %d: %w", mbid, ErrNotFound)
	}
	err = fb.ForEach(func(k, _ []byte) error {
		var f Folder
		if _, err := getJSON(fb, k, &f); err != nil {
			return err
		}
		q.Bytes += f.Size
		q.Messages += int64(f.Messages)
		return nil
	})
	return q, err
}

// checkQuota fails with ErrOverQuota when mailbox mbid, after this
// transaction's changes so far, is over its limits. Callers run it after
// adding, so several copies into one mailbox count together.
func (t *Tx) checkQuota(mbid uint64) error {
	q, err := t.s.quotaTx(t.tx, mbid)
	if err != nil {
		return err
	}
	if q.Over(0, 0) {
		mb, _ := getMailboxTx(t.tx, mbid)
		addr := fmt.Sprint(mbid)
		if mb != nil {
			addr = mb.Address
		}
		return fmt.Errorf("%s: %w (%d of %d bytes, %d of %d messages; 0 = unlimited)", addr, ErrOverQuota, q.Bytes, q.LimitBytes, q.Messages, q.LimitMessages)
	}
	return nil
}

// WithRoom returns the mailboxes of ids that have room for one more
// message: how SMTP decides at RCPT (an alias to several mailboxes is
// refused only when all of them are full). Enforcing at RCPT and not at
// DATA is the caller's choice, see server/smtpd/quota.go.
func (s *Store) WithRoom(ctx context.Context, ids []uint64) ([]uint64, error) {
	var keep []uint64
	err := s.view(ctx, func(tx kv.Tx) error {
		for _, id := range ids {
			q, err := s.quotaTx(tx, id)
			if err != nil {
				return err
			}
			if !q.Over(1, 1) {
				keep = append(keep, id)
			}
		}
		return nil
	})
	return keep, err
}
