package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"mailsrv/store/kv"
)

// Message is one message in a folder.
type Message struct {
	UID          uint32    `json:"uid"`
	Blob         string    `json:"blob"`
	Prefix       []byte    `json:"prefix,omitempty"` // trace headers prepended at delivery
	Size         int64     `json:"size"`             // len(Prefix) + blob size
	InternalDate time.Time `json:"internal_date"`
	Envelope     *Envelope `json:"env,omitempty"`
	Flags        []string  `json:"-"` // filled from the "f" bucket
	ModSeq       uint64    `json:"-"` // filled from the "q" bucket (modseq.go)
}

// Flag names with meaning to the store (counts of unseen messages).
const FlagSeen = `\Seen`

// Target is one folder a delivery goes to.
type Target struct {
	MailboxID uint64
	Folder    string // "" = INBOX; a missing folder falls back to INBOX
	Flags     []string
	// Prefix is appended to Delivery.Prefix for this target only (the
	// junk filter's per-mailbox X-Spam-* fields).
	Prefix []byte
}

// Delivery is one message delivered to one or more folders and, optionally,
// queued for remote recipients, all in one transaction.
type Delivery struct {
	Blob         *BlobWriter // written and Synced
	Prefix       []byte      // header lines to prepend, CRLF-terminated
	InternalDate time.Time   // zero = now
	Targets      []Target
	Queue        *QueueItem     // remote recipients, or nil
	Audit        []MailboxAudit // entries written in the same transaction
	// Requires are rights the delivery needs, checked inside its
	// transaction (requirement.go); one that fails refuses the whole
	// delivery with a *MissingRightError.
	Requires []Requirement
	// Actor is the member adding the message (IMAP APPEND), whose rights
	// decide whether its team keywords may be set; "" = the system.
	Actor string
	// EnforceQuota fails the delivery with ErrOverQuota when a target
	// mailbox would go over its quota (APPEND; quota.go).
	EnforceQuota bool
}

// MailboxAudit is an audit entry for a mailbox.
type MailboxAudit struct {
	MailboxID uint64
	Entry     AuditEntry
}

// Delivered says where one target's copy landed.
type Delivered struct {
	MailboxID uint64
	FolderID  uint64
	Folder    string
	UID       uint32
}

// Deliver commits a message that was written to d.Blob. It is the one
// delivery path used by MX intake, submission, queue bounces, APPEND and
// backups. On error nothing is kept and the caller should Abort the blob.
func (s *Store) Deliver(ctx context.Context, d Delivery) ([]Delivered, error) {
	p, err := s.prepareDelivery(&d)
	if err != nil {
		return nil, err
	}
	var out []Delivered
	err = s.update(ctx, func(t *Tx) error {
		var err error
		out, err = t.deliver(&d, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	if d.Blob.inline {
		s.releasePending(d.Blob.id) // committed: read from the database now
	}
	return out, nil
}

// preparedDelivery is what Deliver works out before its transaction.
type preparedDelivery struct {
	internal time.Time
	head     []byte
	env      *Envelope
}

func (s *Store) prepareDelivery(d *Delivery) (*preparedDelivery, error) {
	if d.Blob == nil || !d.Blob.done {
		return nil, errors.New("store: Deliver needs a synced blob")
	}
	if len(d.Targets) == 0 && d.Queue == nil {
		return nil, errors.New("store: delivery without targets")
	}
	internal := d.InternalDate
	if internal.IsZero() {
		internal = s.now()
	}
	head := append(append([]byte{}, d.Prefix...), d.Blob.headBytes()...)
	return &preparedDelivery{internal: internal, head: head, env: ParseEnvelope(head)}, nil
}

// deliver is the transaction of Deliver (and of each of DeliverAll's).
func (t *Tx) deliver(d *Delivery, p *preparedDelivery) (out []Delivered, err error) {
	internal, head, env := p.internal, p.head, p.env
	err = func() error {
		if err := t.checkRequirements(d.Requires); err != nil {
			return err
		}
		if d.Blob.inline {
			// The body commits with the records that reference it.
			if err := t.putInline(d.Blob); err != nil {
				return err
			}
		}
		for _, tg := range d.Targets {
			f, err := t.targetFolder(tg)
			if err != nil {
				return err
			}
			prefix := d.Prefix
			if len(tg.Prefix) > 0 {
				prefix = append(append([]byte{}, d.Prefix...), tg.Prefix...)
			}
			m := &Message{Blob: d.Blob.id, Prefix: prefix, Size: int64(len(prefix)) + d.Blob.size, InternalDate: internal.UTC(), Envelope: env}
			flags := normalizeFlags(canonicalTeamFlags(tg.Flags))
			uid, err := t.addMessage(f, m, flags)
			if err != nil {
				return err
			}
			if err := t.teamRulesFor(f, d.Actor, true).check(uid, nil, flags); err != nil {
				return err
			}
			if err := t.answerFromSent(f, head); err != nil {
				return err
			}
			if d.EnforceQuota {
				if err := t.checkQuota(f.MailboxID); err != nil {
					return err
				}
			}
			out = append(out, Delivered{MailboxID: f.MailboxID, FolderID: f.ID, Folder: f.Name, UID: uid})
		}
		if d.Queue != nil {
			q := *d.Queue
			q.Blob, q.Prefix, q.Size = d.Blob.id, d.Prefix, int64(len(d.Prefix))+d.Blob.size
			if err := t.enqueue(&q); err != nil {
				return err
			}
		}
		for _, a := range d.Audit {
			// An entry about this very message (APPEND, the Sent copy of
			// a send-as) gets the UID it was just given, so the audit
			// log points at the message.
			if a.Entry.UID == 0 {
				for _, dl := range out {
					if dl.MailboxID == a.MailboxID && (a.Entry.Folder == "" || a.Entry.Folder == dl.Folder) {
						a.Entry.UID, a.Entry.Folder = dl.UID, dl.Folder
						break
					}
				}
			}
			t.Audit(a.MailboxID, a.Entry)
		}
		return nil
	}()
	return out, err
}

// targetFolder finds the target's folder, falling back to INBOX.
func (t *Tx) targetFolder(tg Target) (*Folder, error) {
	mb, err := getMailboxTx(t.tx, tg.MailboxID)
	if err != nil {
		return nil, err
	}
	if mb.Deleted != nil {
		return nil, errorf(ErrNotFound, "mailbox %s is in the recycle bin", mb.Address)
	}
	name := tg.Folder
	if name == "" {
		name = "INBOX"
	}
	f, err := getFolderTx(t.tx, tg.MailboxID, name)
	if errors.Is(err, ErrNotFound) && name != "INBOX" {
		f, err = getFolderTx(t.tx, tg.MailboxID, "INBOX")
	}
	return f, err
}

// addMessage appends m to folder f with a new UID and takes a blob reference.
func (t *Tx) addMessage(f *Folder, m *Message, flags []string) (uint32, error) {
	return t.addMessageFrom(f, m, flags, 0)
}

// addMessageFrom is addMessage for a copy or move out of folder source,
// which its change event names (Event.Source).
func (t *Tx) addMessageFrom(f *Folder, m *Message, flags []string, source uint64) (uint32, error) {
	fm := bucket(t.tx, "msgs").Bucket(u64(f.ID))
	if fm == nil {
		return 0, fmt.Errorf("folder %s: %w", f.Name, ErrNotFound)
	}
	m.UID = f.UIDNext
	f.UIDNext++
	f.Messages++
	f.Size += m.Size
	if !slices.Contains(flags, FlagSeen) {
		f.Unseen++
	}
	if err := putJSON(fm.Bucket(bktRecords), u32(m.UID), m); err != nil {
		return 0, err
	}
	if err := putHead(fm, m); err != nil {
		return 0, err
	}
	if err := fm.Bucket(bktFlags).Put(u32(m.UID), []byte(strings.Join(flags, " "))); err != nil {
		return 0, err
	}
	if err := t.refBlob(m.Blob, 1); err != nil {
		return 0, err
	}
	ms := f.nextModSeq()
	if err := t.setModSeq(fm, m.UID, ms); err != nil {
		return 0, err
	}
	kw := f.noteKeywords(flags)
	if err := t.putFolder(f); err != nil {
		return 0, err
	}
	t.Publish(Event{Kind: EventNew, MailboxID: f.MailboxID, FolderID: f.ID, UIDs: []uint32{m.UID}, Keywords: kw, Source: source, ModSeq: ms})
	return m.UID, nil
}

func (t *Tx) refBlob(id string, n uint32) error {
	b := bucket(t.tx, "blobrefs")
	cur := uint32(0)
	if v := b.Get([]byte(id)); v != nil {
		cur = getU32(v)
	}
	return b.Put([]byte(id), u32(cur+n))
}

// unrefBlob drops one reference; the body goes when none remain (dropBlob).
func (t *Tx) unrefBlob(id string) error {
	b := bucket(t.tx, "blobrefs")
	v := b.Get([]byte(id))
	if v == nil || getU32(v) <= 1 {
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		return t.dropBlob(id) // blob_remove.go
	}
	return b.Put([]byte(id), u32(getU32(v)-1))
}

// normalizeFlags drops empty, duplicate and \Recent flags and sorts.
func normalizeFlags(flags []string) []string {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if f == "" || strings.EqualFold(f, `\Recent`) || slices.Contains(out, f) {
			continue
		}
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

func splitFlags(v []byte) []string {
	if len(v) == 0 {
		return nil
	}
	return strings.Split(string(v), " ")
}

// UIDFlags is one message's UID and flags.
type UIDFlags struct {
	UID    uint32
	Flags  []string
	ModSeq uint64
}

// FolderFlags returns every message's UID and flags in UID order. It reads
// only the compact flags bucket.
func (s *Store) FolderFlags(ctx context.Context, fid uint64) ([]UIDFlags, error) {
	var out []UIDFlags
	err := s.view(ctx, func(tx kv.Tx) error {
		fm := bucket(tx, "msgs").Bucket(u64(fid))
		if fm == nil {
			return fmt.Errorf("folder id %d: %w", fid, ErrNotFound)
		}
		fb, q := fm.Bucket(bktFlags), fm.Bucket(bktModSeq)
		out = make([]UIDFlags, 0, fb.KeyN())
		return fb.ForEach(func(k, v []byte) error {
			out = append(out, UIDFlags{UID: getU32(k), Flags: splitFlags(v), ModSeq: modSeqOf(q, getU32(k))})
			return nil
		})
	})
	return out, err
}

// Messages returns the metadata and flags of the given UIDs (missing ones
// are skipped), in the order given.
func (s *Store) Messages(ctx context.Context, fid uint64, uids []uint32) ([]Message, error) {
	return s.messages(ctx, fid, uids, nil)
}

// MessagesWithWords is Messages for a search over envelope fields: it
// returns only the messages whose stored record contains every one of
// words, compared ASCII-case-insensitively, and skips decoding the others,
// which is most of the cost of searching a large folder.
//
// words must be runs of ASCII letters and digits (others are ignored).
// Such runs are stored verbatim in the record, so a message whose
// envelope field contains the searched text in any letter case contains
// each run: the filter never drops a match. Records holding a character
// that lowercases to an ASCII letter (KELVIN SIGN, CAPITAL I WITH DOT
// ABOVE, the only two, checked over all of Unicode) are always returned,
// as a lowercasing search could match them.
func (s *Store) MessagesWithWords(ctx context.Context, fid uint64, uids []uint32, words []string) ([]Message, error) {
	return s.messages(ctx, fid, uids, wordsFilter(words))
}

func isASCIIAlnum(w string) bool {
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// messages decodes the records of uids for which keep (nil: all) holds.
func (s *Store) messages(ctx context.Context, fid uint64, uids []uint32, keep func(raw []byte) bool) ([]Message, error) {
	out := make([]Message, 0, len(uids))
	err := s.view(ctx, func(tx kv.Tx) error {
		fm := bucket(tx, "msgs").Bucket(u64(fid))
		if fm == nil {
			return fmt.Errorf("folder id %d: %w", fid, ErrNotFound)
		}
		mb, fb := fm.Bucket(bktRecords), fm.Bucket(bktFlags)
		for _, uid := range uids {
			raw := mb.Get(u32(uid))
			if raw == nil || keep != nil && !keep(raw) {
				continue
			}
			var m Message
			if err := json.Unmarshal(raw, &m); err != nil {
				return fmt.Errorf("decode message %d: %w", uid, err)
			}
			m.Flags = splitFlags(fb.Get(u32(uid)))
			m.ModSeq = modSeqOf(fm.Bucket(bktModSeq), uid)
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// FlagOp says how StoreFlags combines flags.
type FlagOp int

const (
	FlagsSet FlagOp = iota
	FlagsAdd
	FlagsRemove
)

// StoreFlags changes flags of uids in folder fid and returns the new flags
// of each message that exists. actor ("" = system) is audited when the
// folder belongs to a shared mailbox.
func (s *Store) StoreFlags(ctx context.Context, fid uint64, uids []uint32, op FlagOp, flags []string, actor string) (map[uint32][]string, error) {
	return s.StoreFlagsFrom(ctx, 0, fid, uids, op, flags, actor)
}

// StoreFlagsFrom is StoreFlags with the Origin its change event carries.
// A change of the team keywords ($Assigned:, $Done) that breaks the rules
// of SPEC §6 fails the whole call with ErrInvalid and a reason.
func (s *Store) StoreFlagsFrom(ctx context.Context, origin Origin, fid uint64, uids []uint32, op FlagOp, flags []string, actor string) (map[uint32][]string, error) {
	flags = normalizeFlags(canonicalTeamFlags(flags))
	var out map[uint32][]string
	err := s.update(ctx, func(t *Tx) error {
		var err error
		out, err = t.changeFlags(origin, fid, uids, op, flags, actor, true)
		return err
	})
	return out, err
}

// changeFlags applies op with flags (normalised) to uids of folder fid in
// this transaction, audits, publishes one flags event and saves the
// folder. checkActor says whether actor's own rights decide team keyword
// changes (see teamRulesFor).
func (t *Tx) changeFlags(origin Origin, fid uint64, uids []uint32, op FlagOp, flags []string, actor string, checkActor bool) (map[uint32][]string, error) {
	out, _, err := t.changeFlagsIf(origin, fid, uids, op, flags, actor, checkActor, nil)
	return out, err
}

// changeFlagsIf is changeFlags that, with unchangedSince not nil, leaves
// alone (and returns in modified) the messages whose modseq is above it
// (RFC 7162 STORE UNCHANGEDSINCE; 0 fails for every message).
func (t *Tx) changeFlagsIf(origin Origin, fid uint64, uids []uint32, op FlagOp, flags []string, actor string, checkActor bool, unchangedSince *uint64) (out map[uint32][]string, modified []uint32, err error) {
	out = map[uint32][]string{}
	f, err := getFolderByIDTx(t.tx, fid)
	if err != nil {
		return nil, nil, err
	}
	if v := viewerTx(t.tx, f, actor); v != "" && checkActor {
		return t.changeFlagsPerMember(origin, f, v, uids, op, flags, actor, checkActor, unchangedSince)
	}
	team := t.teamRulesFor(f, actor, checkActor)
	fm := bucket(t.tx, "msgs").Bucket(u64(fid))
	fb := fm.Bucket(bktFlags)
	ev := Event{Kind: EventFlags, MailboxID: f.MailboxID, FolderID: fid, Origin: origin, Actor: actor}
	q := fm.Bucket(bktModSeq)
	for _, uid := range uids {
		cur := fb.Get(u32(uid))
		if cur == nil {
			continue
		}
		if unchangedSince != nil && modSeqOf(q, uid) > *unchangedSince {
			modified = append(modified, uid)
			continue
		}
		old := splitFlags(cur)
		next := applyFlags(old, op, flags)
		out[uid] = next
		if slices.Equal(old, next) {
			continue
		}
		if err := team.check(uid, old, next); err != nil {
			return nil, nil, err
		}
		if ev.ModSeq == 0 {
			ev.ModSeq = f.nextModSeq()
		}
		if err := t.setModSeq(fm, uid, ev.ModSeq); err != nil {
			return nil, nil, err
		}
		q = fm.Bucket(bktModSeq)
		wasSeen, isSeen := slices.Contains(old, FlagSeen), slices.Contains(next, FlagSeen)
		if wasSeen && !isSeen {
			f.Unseen++
		} else if !wasSeen && isSeen && f.Unseen > 0 {
			f.Unseen--
		}
		if err := fb.Put(u32(uid), []byte(strings.Join(next, " "))); err != nil {
			return nil, nil, err
		}
		ev.UIDs = append(ev.UIDs, uid)
		ev.Flags = append(ev.Flags, next)
		ev.Keywords = append(ev.Keywords, f.noteKeywords(next)...)
		ev.Prev = append(ev.Prev, old)
		t.auditMessage(f, uid, actor, "flags", strings.Join(next, " "))
	}
	if len(ev.UIDs) > 0 {
		t.Publish(ev)
	}
	return out, modified, t.putFolder(f)
}

func applyFlags(old []string, op FlagOp, flags []string) []string {
	switch op {
	case FlagsSet:
		return slices.Clone(flags)
	case FlagsAdd:
		return normalizeFlags(append(slices.Clone(old), flags...))
	default:
		out := make([]string, 0, len(old))
		for _, f := range old {
			if !slices.ContainsFunc(flags, func(x string) bool { return strings.EqualFold(x, f) }) {
				out = append(out, f)
			}
		}
		return out
	}
}

// Expunge removes messages from folder fid: the given uids, or with uids
// nil every message flagged \Deleted. It returns the removed UIDs.
func (s *Store) Expunge(ctx context.Context, fid uint64, uids []uint32, actor string) ([]uint32, error) {
	var removed []uint32
	err := s.update(ctx, func(t *Tx) error {
		removed = removed[:0]
		f, err := getFolderByIDTx(t.tx, fid)
		if err != nil {
			return err
		}
		fb := bucket(t.tx, "msgs").Bucket(u64(fid)).Bucket(bktFlags)
		var victims []uint32
		if uids == nil {
			c := fb.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if slices.Contains(splitFlags(v), `\Deleted`) {
					victims = append(victims, getU32(k))
				}
			}
		} else {
			victims = uids
		}
		for _, uid := range victims {
			ok, err := t.removeMessage(f, uid, actor, "expunge")
			if err != nil {
				return err
			}
			if ok {
				removed = append(removed, uid)
			}
		}
		if len(removed) > 0 {
			ms := f.nextModSeq()
			if err := t.bury(f, removed, ms); err != nil {
				return err
			}
			t.Publish(Event{Kind: EventExpunge, MailboxID: f.MailboxID, FolderID: fid, UIDs: slices.Clone(removed), ModSeq: ms})
		}
		return t.putFolder(f)
	})
	return removed, err
}

// removeMessage deletes one message and updates f's counters (the caller
// saves f and publishes the expunge event).
func (t *Tx) removeMessage(f *Folder, uid uint32, actor, action string) (bool, error) {
	fm := bucket(t.tx, "msgs").Bucket(u64(f.ID))
	mb, fb := fm.Bucket(bktRecords), fm.Bucket(bktFlags)
	var m Message
	ok, err := getJSON(mb, u32(uid), &m)
	if err != nil || !ok {
		return false, err
	}
	if !slices.Contains(splitFlags(fb.Get(u32(uid))), FlagSeen) && f.Unseen > 0 {
		f.Unseen--
	}
	f.Messages--
	f.Size -= m.Size
	if action != "" {
		t.auditMessage(f, uid, actor, action, messageID(&m))
	}
	if err := mb.Delete(u32(uid)); err != nil {
		return false, err
	}
	if err := deleteHead(fm, uid); err != nil {
		return false, err
	}
	if err := fb.Delete(u32(uid)); err != nil {
		return false, err
	}
	return true, t.unrefBlob(m.Blob)
}

func messageID(m *Message) string {
	if m.Envelope != nil {
		return m.Envelope.MessageID
	}
	return ""
}

// CopyResult maps source UIDs to destination UIDs.
type CopyResult struct {
	DestUIDValidity uint32
	SrcUIDs         []uint32
	DestUIDs        []uint32
}

// Copy copies uids from folder src to folder dst (any mailbox), keeping
// flags and internal dates; bodies are shared, not duplicated.
func (s *Store) Copy(ctx context.Context, src uint64, uids []uint32, dst uint64, actor string) (*CopyResult, error) {
	return s.copyOrMove(ctx, src, uids, dst, actor, false)
}

// Move moves uids from src to dst atomically (RFC 6851).
func (s *Store) Move(ctx context.Context, src uint64, uids []uint32, dst uint64, actor string) (*CopyResult, error) {
	return s.copyOrMove(ctx, src, uids, dst, actor, true)
}

func (s *Store) copyOrMove(ctx context.Context, src uint64, uids []uint32, dst uint64, actor string, move bool) (*CopyResult, error) {
	var res *CopyResult
	err := s.update(ctx, func(t *Tx) error {
		sf, err := getFolderByIDTx(t.tx, src)
		if err != nil {
			return err
		}
		df, err := getFolderByIDTx(t.tx, dst)
		if err != nil {
			return err
		}
		if src == dst {
			// MOVE/COPY into the same folder (RFC 6851 allows it): the
			// copies get new UIDs and one record keeps the counters.
			sf = df
		}
		res = &CopyResult{DestUIDValidity: df.UIDValidity}
		sm := bucket(t.tx, "msgs").Bucket(u64(src))
		for _, uid := range uids {
			var m Message
			ok, err := getJSON(sm.Bucket(bktRecords), u32(uid), &m)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			flags := splitFlags(sm.Bucket(bktFlags).Get(u32(uid)))
			newUID, err := t.addMessageFrom(df, &m, flags, src)
			if err != nil {
				return err
			}
			if df.MailboxID != sf.MailboxID {
				// Team keywords brought in from another mailbox must hold here.
				if err := t.teamRulesFor(df, actor, true).check(newUID, nil, flags); err != nil {
					return err
				}
			}
			res.SrcUIDs = append(res.SrcUIDs, uid)
			res.DestUIDs = append(res.DestUIDs, newUID)
		}
		if df.MailboxID != sf.MailboxID && len(res.DestUIDs) > 0 {
			if err := t.checkQuota(df.MailboxID); err != nil { // quota.go
				return err
			}
		}
		if move && len(res.SrcUIDs) > 0 {
			for _, uid := range res.SrcUIDs {
				if _, err := t.removeMessage(sf, uid, actor, "move to "+df.Name); err != nil {
					return err
				}
			}
			ms := sf.nextModSeq()
			if err := t.bury(sf, res.SrcUIDs, ms); err != nil {
				return err
			}
			t.Publish(Event{Kind: EventExpunge, MailboxID: sf.MailboxID, FolderID: src, UIDs: slices.Clone(res.SrcUIDs), ModSeq: ms})
			if err := t.putFolder(sf); err != nil {
				return err
			}
		} else if !move {
			for i := range res.SrcUIDs {
				t.auditMessage(df, res.DestUIDs[i], actor, "copy from "+sf.Name, "")
			}
		}
		return t.putFolder(df)
	})
	return res, err
}

// RecentSubmittedCopy looks in folder fid, newest first, for a message
// with this Message-ID (as in the header, with brackets) that the server
// itself stored from SMTP (it carries a trace prefix; an APPENDed message
// has none) at or after since. It returns its UID, or ok=false.
//
// This is how an APPEND to a Sent folder recognises the copy submission
// already made (SPEC §6: mail sent as a shared address is kept in its Sent
// folder), so clients that also save their own copy there do not double
// every sent message. The scan stops at the first message older than
// since, so it reads only the last few records.
func (s *Store) RecentSubmittedCopy(ctx context.Context, fid uint64, messageID string, since time.Time) (uid uint32, ok bool, err error) {
	if messageID == "" {
		return 0, false, nil
	}
	err = s.view(ctx, func(tx kv.Tx) error {
		fm := bucket(tx, "msgs").Bucket(u64(fid))
		if fm == nil {
			return fmt.Errorf("folder id %d: %w", fid, ErrNotFound)
		}
		c := fm.Bucket(bktRecords).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var m Message
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("decode message %d: %w", getU32(k), err)
			}
			if m.InternalDate.Before(since) {
				return nil
			}
			if len(m.Prefix) > 0 && m.Envelope != nil && m.Envelope.MessageID == messageID {
				uid, ok = getU32(k), true
				return nil
			}
		}
		return nil
	})
	return uid, ok, err
}
