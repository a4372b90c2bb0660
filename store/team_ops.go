package store

import (
	"bufio"
	"bytes"
	"context"
	"io"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"encoding/json"
	"slices"
	"strings"
	"time"

	"mailsrv/store/kv"
)

// TeamMessage is one message of a shared mailbox as the team views see
// it (`shared queue`, assign, done).
type TeamMessage struct {
	Folder    string
	UID       uint32
	MessageID string
	From      string
	Subject   string
	Received  time.Time
	Flags     []string
	// Replied: the shared Sent holds a message whose In-Reply-To names
	// this one.
	Replied bool
}

// Assignee is the member the message is assigned to, or "".
func (m *TeamMessage) Assignee() string { return Assignee(m.Flags) }

// Done reports the $Done keyword.
func (m *TeamMessage) Done() bool { return slices.Contains(m.Flags, FlagDone) }

// Answered reports \Answered or a reply in the shared Sent.
func (m *TeamMessage) Answered() bool { return m.Replied || slices.Contains(m.Flags, FlagAnswered) }

func teamMessage(folder string, uid uint32, m *Message, flags []string) TeamMessage {
	tm := TeamMessage{Folder: folder, UID: uid, Received: m.InternalDate, Flags: flags}
	if e := m.Envelope; e != nil {
		tm.MessageID, tm.Subject = e.MessageID, e.Subject
		if len(e.From) > 0 {
			tm.From = e.From[0].Mailbox + "@" + e.From[0].Host
		}
	}
	return tm
}

// normalMessageID writes a Message-ID as the envelope cache keeps it,
// with angle brackets.
func normalMessageID(id string) string {
	id = strings.TrimSpace(id)
	if id != "" && !strings.HasPrefix(id, "<") {
		id = "<" + id + ">"
	}
	return id
}

// findByMessageID finds the messages of mailbox mbid with Message-ID id:
// those in INBOX, or, when INBOX has none, those of the first other
// folder that has one.
func findByMessageID(tx kv.Tx, mbid uint64, id string) (*Folder, []uint32, error) {
	names := []string{"INBOX"}
	fb := bucket(tx, "folders").Bucket(u64(mbid))
	if fb == nil {
		return nil, nil, errorf(ErrNotFound, "mailbox %d has no folders", mbid)
	}
	fb.ForEach(func(k, _ []byte) error {
		if string(k) != "INBOX" {
			names = append(names, string(k))
		}
		return nil
	})
	needle := []byte(strings.Trim(id, "<>"))
	for _, name := range names {
		f, err := getFolderTx(tx, mbid, name)
		if err != nil {
			continue
		}
		fm := bucket(tx, "msgs").Bucket(u64(f.ID))
		if fm == nil {
			continue
		}
		var uids []uint32
		fm.Bucket(bktRecords).ForEach(func(k, v []byte) error {
			if !strings.ContainsAny(string(needle), `"\<>&`) && !bytes.Contains(v, needle) {
				return nil
			}
			var m Message
			if json.Unmarshal(v, &m) == nil && messageID(&m) == id {
				uids = append(uids, getU32(k))
			}
			return nil
		})
		if len(uids) > 0 {
			return f, uids, nil
		}
	}
	return nil, nil, errorf(ErrNotFound, "no message with Message-ID %s in this mailbox (see `mailsrv shared queue`)", id)
}

// teamChange finds the message with Message-ID id in shared mailbox mbid
// and rewrites its flags with edit, in one transaction, with the team
// rules checked (the administrator's role already allowed the change, so
// actor's own rights are not asked). It returns the message afterwards.
func (s *Store) teamChange(ctx context.Context, mbid uint64, id, actor string, edit func([]string) []string) (*TeamMessage, error) {
	id = normalMessageID(id)
	if id == "" {
		return nil, errorf(ErrInvalid, "a Message-ID is needed, as in the message's header: <id@host>")
	}
	var out *TeamMessage
	err := s.update(ctx, func(t *Tx) error {
		mb, err := getMailboxTx(t.tx, mbid)
		if err != nil {
			return err
		}
		if mb.Kind != MailboxShared {
			return errorf(ErrInvalid, "%s is not a shared mailbox", mb.Address)
		}
		f, uids, err := findByMessageID(t.tx, mbid, id)
		if err != nil {
			return err
		}
		fm := bucket(t.tx, "msgs").Bucket(u64(f.ID))
		for _, uid := range uids {
			next := normalizeFlags(canonicalTeamFlags(edit(splitFlags(fm.Bucket(bktFlags).Get(u32(uid))))))
			res, err := t.changeFlags(0, f.ID, []uint32{uid}, FlagsSet, next, actor, false)
			if err != nil {
				return err
			}
			var m Message
			if _, err := getJSON(fm.Bucket(bktRecords), u32(uid), &m); err != nil {
				return err
			}
			tm := teamMessage(f.Name, uid, &m, res[uid])
			out = &tm
		}
		return nil
	})
	return out, err
}

// Assign assigns the message with Message-ID id in shared mailbox mbid to
// member ("" = unassign), replacing any earlier assignee.
func (s *Store) Assign(ctx context.Context, mbid uint64, id, member, actor string) (*TeamMessage, error) {
	return s.teamChange(ctx, mbid, id, actor, func(flags []string) []string {
		out := slices.DeleteFunc(flags, func(f string) bool { return len(assignees([]string{f})) > 0 })
		if member != "" {
			out = append(out, AssignedKeyword(member))
		}
		return out
	})
}

// SetDone sets (or with done=false clears) $Done on the message with
// Message-ID id in shared mailbox mbid.
func (s *Store) SetDone(ctx context.Context, mbid uint64, id string, done bool, actor string) (*TeamMessage, error) {
	return s.teamChange(ctx, mbid, id, actor, func(flags []string) []string {
		out := slices.DeleteFunc(flags, func(f string) bool { return f == FlagDone })
		if done {
			out = append(out, FlagDone)
		}
		return out
	})
}

// TeamInbox returns the INBOX messages of mailbox mbid, oldest first,
// each with whether the mailbox's Sent folder holds a reply to it
// (In-Reply-To naming its Message-ID).
func (s *Store) TeamInbox(ctx context.Context, mbid uint64) ([]TeamMessage, error) {
	var out []TeamMessage
	replied := map[string][]Message{} // Message-ID → Sent messages naming it
	err := s.view(ctx, func(tx kv.Tx) error {
		if fs, err := foldersTx(tx, mbid); err == nil {
			for _, f := range fs {
				if f.SpecialUse != `\Sent` {
					continue
				}
				fm := bucket(tx, "msgs").Bucket(u64(f.ID))
				fm.Bucket(bktRecords).ForEach(func(_, v []byte) error {
					var m Message
					if json.Unmarshal(v, &m) == nil && m.Envelope != nil {
						for _, id := range m.Envelope.InReplyTo {
							replied[id] = append(replied[id], m)
						}
					}
					return nil
				})
			}
		}
		inbox, err := getFolderTx(tx, mbid, "INBOX")
		if err != nil {
			return err
		}
		fm := bucket(tx, "msgs").Bucket(u64(inbox.ID))
		fb := fm.Bucket(bktFlags)
		return fm.Bucket(bktRecords).ForEach(func(k, v []byte) error {
			var m Message
			if err := json.Unmarshal(v, &m); err != nil {
				return nil
			}
			tm := teamMessage(inbox.Name, getU32(k), &m, splitFlags(fb.Get(k)))
			out = append(out, tm)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		tm := &out[i]
		if tm.MessageID == "" || slices.Contains(tm.Flags, FlagAnswered) {
			continue
		}
		// Rare: a reply the delivery did not mark (stored before replies
		// were matched, or \Answered cleared since). Read the candidates'
		// headers, after the transaction, to leave out automatic replies.
		for j := range replied[tm.MessageID] {
			if !s.isAutoSubmitted(ctx, &replied[tm.MessageID][j]) {
				tm.Replied = true
				break
			}
		}
	}
	slices.SortStableFunc(out, func(a, b TeamMessage) int { return a.Received.Compare(b.Received) })
	return out, err
}

// foldersTx lists the folders of mailbox mbid.
func foldersTx(tx kv.Tx, mbid uint64) ([]Folder, error) {
	fb := bucket(tx, "folders").Bucket(u64(mbid))
	if fb == nil {
		return nil, errorf(ErrNotFound, "mailbox %d has no folders", mbid)
	}
	var out []Folder
	err := fb.ForEach(func(_, v []byte) error {
		var f Folder
		if err := json.Unmarshal(v, &f); err != nil {
			return err
		}
		out = append(out, f)
		return nil
	})
	return out, err
}

// isAutoSubmitted reads message m's header for Auto-Submitted (an
// unreadable body counts as a real reply).
func (s *Store) isAutoSubmitted(ctx context.Context, m *Message) bool {
	r, err := s.OpenMessage(ctx, m)
	if err != nil {
		return false
	}
	defer r.Close()
	h, err := textproto.ReadHeader(bufio.NewReader(io.LimitReader(r, 256<<10)))
	if err != nil && h.Len() == 0 {
		return false
	}
	return autoSubmitted(mail.Header{Header: message(h)})
}
