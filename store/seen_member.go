package store

import (
	"bytes"
	"context"
	"slices"
	"strings"

	"mailsrv/store/kv"
)

// Per-member \Seen (SPEC §6, `shared create|set --seen per-member`).
//
// In a shared mailbox with Mailbox.SeenPerMember every member has their
// own \Seen; every other flag stays shared. The shared flags bucket "f"
// keeps the mailbox's own \Seen (the baseline: what delivery, the
// mailbox's own login and the system set). A member's own changes are
// overrides in the top-level bucket "seenpvt":
//
//	folder id (8) ‖ member address ‖ 0 ‖ uid (4)  →  modseq (8) ‖ seen (1)
//
// A member sees \Seen from their override when there is one, else from
// the baseline. So switching shared → per-member gives every member the
// current \Seen without writing anything (the override is written when
// the member first changes it); a new member starts from the baseline.
// Cost: one entry of about 30 bytes of key (address length + 13) and 9
// of value, plus bbolt's ~16 bytes per element, per member per message
// whose \Seen that member changed; nothing for messages they never
// touched. Expunge leaves overrides behind (UIDs are never reused, so
// they mean nothing; a switch back to shared removes them all).
//
// MODSEQ: one counter per folder, as for everything else. A member's own
// \Seen change raises the folder's HighestModSeq by one (so every open
// session's modseq stream stays gap-free, DEVELOPERS.md) and records
// that modseq in the override, and its change event names the member
// (Event.Private): only that member's sessions get the FETCH. For a
// member a message's MODSEQ is max(shared modseq, own override's), so
// CHANGEDSINCE and QRESYNC report exactly the messages whose state that
// member sees changed; another member's \Seen never changes it. The
// folder's HIGHESTMODSEQ does rise for everyone, as after a change they
// cannot see (RFC 7162 requires it to grow with every change, not that
// every value be some message's).
//
// Unseen counts for a member are the baseline's (Folder.Unseen) adjusted
// by the member's overrides: O(overrides) per STATUS.

var bktSeenPvt = []byte("seenpvt")

// pvtTx and pvtBucket are the transaction types the store uses.
type (
	pvtTx     = kv.Tx
	pvtBucket = kv.Bucket
)

func pvtPrefix(fid uint64, member string) []byte {
	k := make([]byte, 0, 8+len(member)+1+4)
	k = append(k, u64(fid)...)
	k = append(k, member...)
	return append(k, 0)
}

func pvtKey(fid uint64, member string, uid uint32) []byte {
	return append(pvtPrefix(fid, member), u32(uid)...)
}

// override is one member's own \Seen of one message.
type override struct {
	seen   bool
	modseq uint64
}

func getOverride(b pvtBucket, fid uint64, member string, uid uint32) (override, bool) {
	if b == nil {
		return override{}, false
	}
	v := b.Get(pvtKey(fid, member, uid))
	if len(v) != 9 {
		return override{}, false
	}
	return override{seen: v[8] == 1, modseq: getU64(v[:8])}, true
}

func putOverride(b pvtBucket, fid uint64, member string, uid uint32, o override) error {
	v := append(u64(o.modseq), 0)
	if o.seen {
		v[8] = 1
	}
	return b.Put(pvtKey(fid, member, uid), v)
}

// viewerTx is the member whose own \Seen applies when user reads folder
// f, or "" (a shared-\Seen mailbox, a personal one, the mailbox's own
// login, the system).
func viewerTx(tx pvtTx, f *Folder, user string) string {
	if user == "" {
		return ""
	}
	mb, err := getMailboxTx(tx, f.MailboxID)
	if err != nil || !mb.SeenPerMember || strings.EqualFold(mb.Address, user) {
		return ""
	}
	return strings.ToLower(user)
}

// SeenViewer is viewerTx for folder fid.
func (s *Store) SeenViewer(ctx context.Context, fid uint64, user string) (string, error) {
	var v string
	err := s.view(ctx, func(tx pvtTx) error {
		f, err := getFolderByIDTx(tx, fid)
		if err != nil {
			return err
		}
		v = viewerTx(tx, f, user)
		return nil
	})
	return v, err
}

// withSeen returns flags with \Seen set to seen.
func withSeen(flags []string, seen bool) []string {
	out := slices.DeleteFunc(slices.Clone(flags), func(f string) bool { return f == FlagSeen })
	if seen {
		out = normalizeFlags(append(out, FlagSeen))
	}
	return out
}

// OverlaySeen returns flags and modseq of a message as viewer sees them
// given their override (ok false: none).
func OverlaySeen(flags []string, modseq uint64, seen bool, omodseq uint64, ok bool) ([]string, uint64) {
	if !ok {
		return flags, modseq
	}
	return withSeen(flags, seen), max(modseq, omodseq)
}

// SeenOverrides returns viewer's overrides in folder fid: uid → seen.
// imapd keeps them with an open folder and follows the private events.
func (s *Store) SeenOverrides(ctx context.Context, fid uint64, viewer string) (map[uint32]bool, error) {
	out := map[uint32]bool{}
	if viewer == "" {
		return out, nil
	}
	err := s.view(ctx, func(tx pvtTx) error {
		b := tx.Bucket(bktSeenPvt)
		if b == nil {
			return nil
		}
		p := pvtPrefix(fid, viewer)
		c := b.Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if len(k) == len(p)+4 && len(v) == 9 {
				out[getU32(k[len(p):])] = v[8] == 1
			}
		}
		return nil
	})
	return out, err
}

// FlagsOfAs is FlagsOf as viewer sees the messages ("" = the shared flags).
func (s *Store) FlagsOfAs(ctx context.Context, fid uint64, uids []uint32, viewer string) ([]UIDFlags, error) {
	out, err := s.FlagsOf(ctx, fid, uids)
	if err != nil || viewer == "" {
		return out, err
	}
	err = s.view(ctx, func(tx pvtTx) error {
		b := tx.Bucket(bktSeenPvt)
		for i := range out {
			o, ok := getOverride(b, fid, viewer, out[i].UID)
			out[i].Flags, out[i].ModSeq = OverlaySeen(out[i].Flags, out[i].ModSeq, o.seen, o.modseq, ok)
		}
		return nil
	})
	return out, err
}

// MessagesAs is Messages as viewer sees their flags.
func (s *Store) MessagesAs(ctx context.Context, fid uint64, uids []uint32, viewer string) ([]Message, error) {
	out, err := s.Messages(ctx, fid, uids)
	if err != nil || viewer == "" {
		return out, err
	}
	return out, s.OverlayMessages(ctx, fid, out, viewer)
}

// OverlayMessages applies viewer's \Seen to msgs of folder fid.
func (s *Store) OverlayMessages(ctx context.Context, fid uint64, msgs []Message, viewer string) error {
	if viewer == "" {
		return nil
	}
	return s.view(ctx, func(tx pvtTx) error {
		b := tx.Bucket(bktSeenPvt)
		for i := range msgs {
			if o, ok := getOverride(b, fid, viewer, msgs[i].UID); ok {
				msgs[i].Flags = withSeen(msgs[i].Flags, o.seen)
			}
		}
		return nil
	})
}

// ChangesSinceAs is ChangesSince as viewer sees it: the shared changes
// with viewer's \Seen, and the messages whose own \Seen viewer changed
// after since.
func (s *Store) ChangesSinceAs(ctx context.Context, fid uint64, since uint64, viewer string) (*Changes, error) {
	ch, err := s.ChangesSince(ctx, fid, since)
	if err != nil || viewer == "" {
		return ch, err
	}
	err = s.view(ctx, func(tx pvtTx) error {
		b := tx.Bucket(bktSeenPvt)
		if b == nil {
			return nil
		}
		got := map[uint32]int{}
		for i := range ch.Changed {
			got[ch.Changed[i].UID] = i
			o, ok := getOverride(b, fid, viewer, ch.Changed[i].UID)
			ch.Changed[i].Flags, ch.Changed[i].ModSeq = OverlaySeen(ch.Changed[i].Flags, ch.Changed[i].ModSeq, o.seen, o.modseq, ok)
		}
		fm := bucket(tx, "msgs").Bucket(u64(fid))
		fb, q := fm.Bucket([]byte("f")), fm.Bucket(bktModSeq)
		p := pvtPrefix(fid, viewer)
		c := b.Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if len(k) != len(p)+4 || len(v) != 9 || getU64(v[:8]) <= since {
				continue
			}
			uid := getU32(k[len(p):])
			if _, dup := got[uid]; dup {
				continue
			}
			cur := fb.Get(u32(uid))
			if cur == nil {
				continue // expunged
			}
			fl, ms := OverlaySeen(splitFlags(cur), modSeqOf(q, uid), v[8] == 1, getU64(v[:8]), true)
			ch.Changed = append(ch.Changed, UIDFlags{UID: uid, Flags: fl, ModSeq: ms})
		}
		slices.SortFunc(ch.Changed, func(a, b UIDFlags) int { return cmpU32(a.UID, b.UID) })
		return nil
	})
	return ch, err
}

// UnseenAs is folder f's unseen count as viewer sees it.
func (s *Store) UnseenAs(ctx context.Context, f *Folder, viewer string) (uint32, error) {
	if viewer == "" {
		return f.Unseen, nil
	}
	n := int64(f.Unseen)
	err := s.view(ctx, func(tx pvtTx) error {
		b := tx.Bucket(bktSeenPvt)
		fm := bucket(tx, "msgs").Bucket(u64(f.ID))
		if b == nil || fm == nil {
			return nil
		}
		fb := fm.Bucket([]byte("f"))
		p := pvtPrefix(f.ID, viewer)
		c := b.Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if len(k) != len(p)+4 || len(v) != 9 {
				continue
			}
			cur := fb.Get(k[len(p):])
			if cur == nil {
				continue
			}
			shared, own := slices.Contains(splitFlags(cur), FlagSeen), v[8] == 1
			switch {
			case shared && !own:
				n++
			case !shared && own:
				n--
			}
		}
		return nil
	})
	return uint32(max(n, 0)), err
}

// changeSeenPrivate applies op with flags to viewer's own \Seen of uid
// (old is the shared flags): it writes the override at a new modseq and
// returns the flags viewer now sees and whether \Seen changed. The
// caller publishes ev (Private = viewer) and saves f.
func (t *Tx) changeSeenPrivate(f *Folder, viewer string, uid uint32, old []string, op FlagOp, flags []string, ev *Event) ([]string, bool, error) {
	b, err := t.tx.CreateBucketIfNotExists(bktSeenPvt)
	if err != nil {
		return nil, false, err
	}
	o, ok := getOverride(b, f.ID, viewer, uid)
	was := slices.Contains(old, FlagSeen)
	if ok {
		was = o.seen
	}
	now := was
	switch op {
	case FlagsSet:
		now = slices.Contains(flags, FlagSeen)
	case FlagsAdd:
		now = now || slices.Contains(flags, FlagSeen)
	case FlagsRemove:
		now = now && !slices.Contains(flags, FlagSeen)
	}
	if now == was {
		return nil, false, nil
	}
	if ev.ModSeq == 0 {
		ev.ModSeq = f.nextModSeq()
	}
	if err := putOverride(b, f.ID, viewer, uid, override{seen: now, modseq: ev.ModSeq}); err != nil {
		return nil, false, err
	}
	return withSeen(old, now), true, nil
}

// seenOnly splits flags into \Seen and the rest.
func seenOnly(flags []string) (seen bool, rest []string) {
	for _, f := range flags {
		if f == FlagSeen {
			seen = true
		} else {
			rest = append(rest, f)
		}
	}
	return seen, rest
}

// changeFlagsPerMember is changeFlagsIf in a per-member folder for a
// member: \Seen goes to the member's override (one private event), every
// other flag to the shared record (one shared event, with the shared
// \Seen), each with its own modseq. out holds the flags the member sees.
func (t *Tx) changeFlagsPerMember(origin Origin, f *Folder, viewer string, uids []uint32, op FlagOp, flags []string, actor string, checkActor bool, unchangedSince *uint64) (out map[uint32][]string, modified []uint32, err error) {
	out = map[uint32][]string{}
	hasSeen, rest := seenOnly(flags)
	team := t.teamRulesFor(f, actor, checkActor)
	fm := bucket(t.tx, "msgs").Bucket(u64(f.ID))
	fb := fm.Bucket([]byte("f"))
	pvt := t.tx.Bucket(bktSeenPvt)
	shared := Event{Kind: EventFlags, MailboxID: f.MailboxID, FolderID: f.ID, Origin: origin, Actor: actor}
	private := Event{Kind: EventFlags, MailboxID: f.MailboxID, FolderID: f.ID, Origin: origin, Actor: actor, Private: viewer}
	q := fm.Bucket(bktModSeq)
	type pending struct {
		uid       uint32
		old, next []string
	}
	var changes []pending
	for _, uid := range uids {
		cur := fb.Get(u32(uid))
		if cur == nil {
			continue
		}
		o, ok := getOverride(pvt, f.ID, viewer, uid)
		if unchangedSince != nil {
			if _, ms := OverlaySeen(nil, modSeqOf(q, uid), o.seen, o.modseq, ok); ms > *unchangedSince {
				modified = append(modified, uid)
				continue
			}
		}
		old := splitFlags(cur)
		// The shared record: every flag but \Seen, which stays as it is.
		sharedSeen := slices.Contains(old, FlagSeen)
		next := applyFlags(old, op, rest)
		if op == FlagsSet {
			next = withSeen(rest, sharedSeen)
		} else {
			next = withSeen(next, sharedSeen)
		}
		changes = append(changes, pending{uid, old, next})
	}
	for _, c := range changes {
		if slices.Equal(c.old, c.next) {
			continue
		}
		if err := team.check(c.uid, c.old, c.next); err != nil {
			return nil, nil, err
		}
		if shared.ModSeq == 0 {
			shared.ModSeq = f.nextModSeq()
		}
		if err := t.setModSeq(fm, c.uid, shared.ModSeq); err != nil {
			return nil, nil, err
		}
		if err := fb.Put(u32(c.uid), []byte(strings.Join(c.next, " "))); err != nil {
			return nil, nil, err
		}
		shared.UIDs = append(shared.UIDs, c.uid)
		shared.Flags = append(shared.Flags, c.next)
		shared.Prev = append(shared.Prev, c.old)
		shared.Keywords = append(shared.Keywords, f.noteKeywords(c.next)...)
		t.auditMessage(f, c.uid, actor, "flags", strings.Join(c.next, " "))
	}
	if len(shared.UIDs) > 0 {
		t.Publish(shared)
	}
	for _, c := range changes {
		if op != FlagsSet && !hasSeen {
			o, ok := getOverride(t.tx.Bucket(bktSeenPvt), f.ID, viewer, c.uid)
			out[c.uid], _ = OverlaySeen(c.next, 0, o.seen, 0, ok)
			continue
		}
		seenFlags := []string(nil)
		if hasSeen {
			seenFlags = []string{FlagSeen}
		}
		fl, changed, err := t.changeSeenPrivate(f, viewer, c.uid, c.next, op, seenFlags, &private)
		if err != nil {
			return nil, nil, err
		}
		if !changed {
			o, ok := getOverride(t.tx.Bucket(bktSeenPvt), f.ID, viewer, c.uid)
			out[c.uid], _ = OverlaySeen(c.next, 0, o.seen, 0, ok)
			continue
		}
		out[c.uid] = fl
		private.UIDs = append(private.UIDs, c.uid)
		private.Flags = append(private.Flags, fl)
		private.Prev = append(private.Prev, c.next)
	}
	if len(private.UIDs) > 0 {
		t.Publish(private)
	}
	return out, modified, t.putFolder(f)
}

// StoreResultModSeq is the modseq viewer sees for uid after a change.
func (t *Tx) modSeqAs(fid uint64, viewer string, uid uint32) uint64 {
	ms := modSeqOf(bucket(t.tx, "msgs").Bucket(u64(fid)).Bucket(bktModSeq), uid)
	if viewer == "" {
		return ms
	}
	o, ok := getOverride(t.tx.Bucket(bktSeenPvt), fid, viewer, uid)
	_, ms = OverlaySeen(nil, ms, o.seen, o.modseq, ok)
	return ms
}

// SetSeenMode switches shared mailbox mbid between shared and per-member
// \Seen, audited. Shared → per-member keeps every member's \Seen as it
// was (the baseline, see above). Per-member → shared marks \Seen the
// messages some member had seen (seen by the team) and drops the
// overrides. Open IMAP sessions of the mailbox are told by an
// EventSeenMode (they reconnect and select again).
func (s *Store) SetSeenMode(ctx context.Context, mbid uint64, perMember bool, actor string) (*Mailbox, error) {
	var out *Mailbox
	err := s.update(ctx, func(t *Tx) error {
		mb, err := getMailboxTx(t.tx, mbid)
		if err != nil {
			return err
		}
		if mb.Kind != MailboxShared {
			return errorf(ErrInvalid, "%s is a personal mailbox: --seen is for shared ones", mb.Address)
		}
		out = mb
		if mb.SeenPerMember == perMember {
			return nil
		}
		if !perMember {
			if err := t.mergeOverrides(mb); err != nil {
				return err
			}
		}
		mb.SeenPerMember = perMember
		if err := t.putMailbox(mb); err != nil {
			return err
		}
		mode := "shared"
		if perMember {
			mode = "per-member"
		}
		t.Audit(mbid, AuditEntry{Actor: actor, Action: "seen mode", Detail: mode})
		t.Publish(Event{Kind: EventSeenMode, MailboxID: mbid})
		return nil
	})
	return out, err
}

// mergeOverrides sets the shared \Seen of every message some member saw
// and removes mailbox mb's overrides.
func (t *Tx) mergeOverrides(mb *Mailbox) error {
	b := t.tx.Bucket(bktSeenPvt)
	if b == nil {
		return nil
	}
	fs, err := foldersTx(t.tx, mb.ID)
	if err != nil {
		return err
	}
	for i := range fs {
		f := &fs[i]
		p := u64(f.ID)
		seen := map[uint32]bool{}
		var keys [][]byte
		c := b.Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			keys = append(keys, bytes.Clone(k))
			if len(k) >= 13 && len(v) == 9 && v[8] == 1 {
				seen[getU32(k[len(k)-4:])] = true
			}
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		var uids []uint32
		for uid := range seen {
			uids = append(uids, uid)
		}
		slices.Sort(uids)
		if len(uids) > 0 {
			if _, err := t.changeFlags(0, f.ID, uids, FlagsAdd, []string{FlagSeen}, "", false); err != nil {
				return err
			}
		}
	}
	return nil
}
