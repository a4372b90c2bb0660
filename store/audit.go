package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"mailsrv/store/kv"
)

// AuditEntry is one line of a shared mailbox's audit log.
type AuditEntry struct {
	Time      time.Time `json:"time"`
	Actor     string    `json:"actor"`  // member address, or "admin"
	Action    string    `json:"action"` // grant, revoke, send-as, expunge, move to X, flags, ...
	Folder    string    `json:"folder,omitempty"`
	UID       uint32    `json:"uid,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// Audit appends an entry to mailbox mbid's audit log in this transaction.
func (t *Tx) Audit(mbid uint64, e AuditEntry) {
	if e.Time.IsZero() {
		e.Time = t.s.now().UTC()
	}
	// One form for every entry, as in the header: <id@host>.
	if id := e.MessageID; id != "" && !strings.HasPrefix(id, "<") {
		e.MessageID = "<" + id + ">"
	}
	b := bucket(t.tx, "audit")
	seq, err := b.NextSequence()
	if err != nil {
		return
	}
	raw, _ := json.Marshal(e)
	b.Put(append(u64(mbid), u64(seq)...), raw)
}

// auditMessage audits a delegate's change to a message of a shared mailbox.
// Changes by the system (actor "") and in personal mailboxes are not audited.
func (t *Tx) auditMessage(f *Folder, uid uint32, actor, action, detail string) {
	if actor == "" {
		return
	}
	mb, err := getMailboxTx(t.tx, f.MailboxID)
	if err != nil || mb.Kind != MailboxShared {
		return
	}
	e := AuditEntry{Actor: actor, Action: action, Folder: f.Name, UID: uid}
	if action == "flags" {
		e.Detail = detail
	} else {
		e.MessageID = detail
	}
	if e.MessageID == "" {
		var m Message
		if ok, _ := getJSON(bucket(t.tx, "msgs").Bucket(u64(f.ID)).Bucket(bktRecords), u32(uid), &m); ok {
			e.MessageID = messageID(&m)
		}
	}
	t.Audit(f.MailboxID, e)
}

// AuditLog returns mailbox mbid's audit entries at or after since, oldest first.
func (s *Store) AuditLog(ctx context.Context, mbid uint64, since time.Time) ([]AuditEntry, error) {
	var out []AuditEntry
	err := s.view(ctx, func(tx kv.Tx) error {
		prefix := u64(mbid)
		c := bucket(tx, "audit").Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode audit entry: %w", err)
			}
			if !e.Time.Before(since) {
				out = append(out, e)
			}
		}
		return nil
	})
	return out, err
}
