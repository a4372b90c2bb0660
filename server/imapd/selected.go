package imapd

import (
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// selection is the session's selected folder.
type selection struct {
	fs     *folderState
	t      *imapserver.SessionTracker
	origin store.Origin // this selection's changes, as fs.origins knows it
	mb     *store.Mailbox
	folder string
	fid    uint64
	// viewer is the member whose own \Seen the session shows, in a
	// per-member mailbox ("" = shared \Seen; store/seen_member.go).
	viewer   string
	examine  bool // EXAMINE: read-only whatever the rights
	checkACL bool // rights must be re-read at each command (shared mailbox, not owned)
	name     string
	// searchRes is the SEARCHRES "$" set (UIDs), from SEARCH RETURN (SAVE).
	searchRes imap.UIDSet
	kw        *keywordView // keywords this session was told of
	// uidValidity is the folder's; qresync holds, between SELECT (QRESYNC …)
	// and its QResyncSelect, the view the client was given (condstore.go).
	uidValidity uint32
	qresync     *qresyncView
	recent      *recentView // \Recent messages (recent.go), nil for IMAP4rev2
}

// msgRef is one message addressed by a command: its sequence number in the
// client's view and its UID.
type msgRef struct {
	seq uint32
	uid uint32
}

// eachLoaded calls fn, in order, for every ref of chunk whose message is in
// msgs: what the store loaded for chunk, in the same UID order, without
// the messages expunged meanwhile or left out by a search prefilter.
func eachLoaded(chunk []msgRef, msgs []store.Message, fn func(r msgRef, m *store.Message) error) error {
	j := 0
	for _, r := range chunk {
		if j >= len(msgs) || msgs[j].UID != r.uid {
			continue
		}
		if err := fn(r, &msgs[j]); err != nil {
			return err
		}
		j++
	}
	return nil
}

// systemFlags returns the flags every folder supports (a fresh slice each
// time: no shared mutable state).
func systemFlags() []imap.Flag {
	return []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft}
}

func (s *session) Select(name string, o *imap.SelectOptions) (*imap.SelectData, error) {
	defer s.observe("SELECT", time.Now())
	s.unselect()
	t, err := s.resolve(name)
	if err != nil {
		return nil, err
	}
	f, err := s.srv.st.GetFolder(s.ctx, t.mb.ID, t.folder)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	viewer, err := s.srv.st.SeenViewer(s.ctx, f.ID, s.user)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	fs, err := s.srv.reg.open(s.ctx, f.ID, t.mb.ID, viewer)
	s.releaseHeld()
	if err != nil {
		return nil, mapStoreErr(err)
	}
	origin := s.srv.st.NewOrigin()
	fs.mu.Lock()
	st := fs.tracker.NewSession()
	if fs.origins == nil {
		fs.origins = map[store.Origin]*imapserver.SessionTracker{}
	}
	fs.origins[origin] = st
	kw := &keywordView{announced: slices.Clone(fs.keywords)}
	n := uint32(len(fs.uids))
	uidNext := f.UIDNext
	if n > 0 && fs.uids[n-1] >= uidNext {
		uidNext = fs.uids[n-1] + 1
	}
	modseq := fs.modseq
	var qr *qresyncView
	if o.QResync != nil {
		qr = &qresyncView{uids: slices.Clone(fs.uids), modseq: modseq, uidNext: uidNext}
	}
	fs.mu.Unlock()

	// Without the manage right a SELECT becomes read-only: the tagged OK
	// says [READ-ONLY] (SPEC §5, via the patched go-imap in third_party/).
	// PERMANENTFLAGS lists exactly what STORE then accepts (RFC 4314 §4,
	// SPEC §5): everything and new keywords with manage, only \Seen for
	// a reader (who has "s"), nothing under EXAMINE.
	switch {
	case o.ReadOnly:
		kw.perm = []imap.Flag{}
	case acl.Allows(t.rights, acl.OpWrite):
		kw.perm = append(systemFlags(), imap.FlagWildcard)
	case acl.Allows(t.rights, acl.OpSetSeen):
		kw.perm = []imap.Flag{imap.FlagSeen}
	default:
		kw.perm = []imap.Flag{}
	}
	st.SetMailboxFlagsFunc(kw.onQueuedFlags)
	s.sel = &selection{
		fs: fs, t: st, origin: origin, mb: t.mb, folder: f.Name, fid: f.ID, name: name, viewer: viewer,
		examine:  o.ReadOnly,
		checkACL: !(t.mb.ID == s.root.ID && s.rootAll),
		kw:       kw,

		uidValidity: f.UIDValidity,
		qresync:     qr,
	}
	if s.sel.recent, err = s.newRecentView(fs, f.RecentUID, o.ReadOnly); err != nil {
		s.unselect()
		return nil, mapStoreErr(err)
	}
	if !acl.Allows(t.rights, acl.OpWrite) {
		o.ReadOnly = true
	}
	d := &imap.SelectData{
		Flags:             kw.flags(),
		PermanentFlags:    kw.permanent(),
		NumMessages:       n,
		UIDNext:           imap.UID(uidNext),
		UIDValidity:       f.UIDValidity,
		HighestModSeq:     modseq,
		NumRecent:         s.sel.recent.count(fs),
		FirstUnseenSeqNum: s.firstUnseen(f),
	}
	return d, nil
}

func (s *session) Unselect() error {
	s.unselect()
	return nil
}

func (s *session) unselect() {
	if s.sel == nil {
		return
	}
	fs := s.sel.fs
	fs.mu.Lock()
	delete(fs.origins, s.sel.origin)
	fs.mu.Unlock()
	s.sel.t.Close()
	s.releaseHeld()
	s.held = s.sel.fs
	s.sel = nil
}

// releaseHeld drops the folder state the last selection left open.
func (s *session) releaseHeld() {
	if s.held != nil {
		s.srv.reg.close(s.held)
		s.held = nil
	}
}

// selRights re-reads the user's rights on the selected mailbox, so that a
// revoke takes effect at the next command.
func (s *session) selRights() (acl.Rights, error) {
	if s.sel == nil {
		return 0, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "No mailbox selected"}
	}
	if err := s.checkFolderState(); err != nil {
		return 0, err
	}
	if !s.sel.checkACL {
		return acl.All, nil
	}
	r, err := s.srv.st.RightsOf(s.ctx, s.sel.mb.ID, s.user)
	if err != nil {
		return 0, mapStoreErr(err)
	}
	if !acl.Allows(r, acl.OpRead) {
		// The address may have changed since SELECT (shared rename).
		return 0, noPerm("access to this shared mailbox was revoked, or it was removed")
	}
	return r, nil
}

// checkFolderState ends the connection when the selected folder's shared
// state lost track of a change (see registry.handle): the client's sequence
// numbers can no longer be mapped safely, and reconnecting resyncs it.
func (s *session) checkFolderState() error {
	if s.sel == nil || !s.sel.fs.isBroken() {
		return nil
	}
	s.log.Warn("disconnecting a session whose folder state is broken", "user", s.user, "folder", s.sel.name)
	if err := s.conn.Bye("Internal error following changes to this folder, please reconnect"); err != nil {
		return err
	}
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeServerBug, Text: "Folder state lost, please reconnect"}
}

// needSel checks op on the selected folder, including read-only state.
func (s *session) needSel(op acl.Op) error {
	r, err := s.selRights()
	if err != nil {
		return err
	}
	if s.sel.examine && op != acl.OpRead {
		return noPerm("mailbox is read-only (EXAMINE)")
	}
	if !acl.Allows(r, op) {
		return noPerm("needs " + acl.Required(op).String() + " on " + s.sel.mb.Address)
	}
	return nil
}

// errExpungeIssued answers a command naming a message that another session
// expunged and whose EXPUNGE this session has not been sent yet (RFC 5530,
// RFC 2180 §4.1.2): what could be done was done, the client learns of the
// expunge at its next command that allows EXPUNGE responses.
var errExpungeIssued = &imap.Error{Type: imap.StatusResponseTypeNo, Code: "EXPUNGEISSUED", Text: "Some of the requested messages no longer exist"}

// refsGone is refs plus whether the set names a message (by sequence
// number) that is still in the client's view but already expunged.
func (s *session) refsGone(numSet imap.NumSet) ([]msgRef, bool) {
	refs := s.refs(numSet)
	set, ok := numSet.(imap.SeqSet)
	if !ok || imap.IsSearchRes(numSet) {
		return refs, false
	}
	pending := s.sel.t.PendingExpunges()
	if len(pending) == 0 {
		return refs, false
	}
	for _, p := range pending {
		for _, r := range set {
			lo, hi := min(r.Start, r.Stop), max(r.Start, r.Stop)
			if r.Start == 0 || r.Stop == 0 {
				hi = ^uint32(0) // "*": up to the client's last message
				lo = max(r.Start, r.Stop)
				if lo == 0 {
					lo = hi
				}
			}
			if lo <= p && p <= hi {
				return refs, true
			}
		}
	}
	return refs, false
}

// refs resolves a sequence or UID set against the client's view. It holds
// the folder lock only while walking the in-memory UID list.
func (s *session) refs(numSet imap.NumSet) []msgRef {
	sel := s.sel
	if imap.IsSearchRes(numSet) {
		numSet = sel.searchRes
	}
	fs := sel.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := len(fs.uids)
	var out []msgRef
	switch set := numSet.(type) {
	case imap.SeqSet:
		set = staticSeq(set, uint32(n))
		if seqSpan(set) < uint64(n)/4 {
			// A few messages (the usual single FETCH): map each client
			// sequence number to the server's instead of scanning all.
			for _, r := range set {
				lo, hi := min(r.Start, r.Stop), max(r.Start, r.Stop)
				for c := uint64(lo); c <= uint64(hi); c++ {
					sv := sel.t.DecodeSeqNum(uint32(c))
					// A number beyond the client's view maps to a message
					// it has not been told about: skip it.
					if sv == 0 || sel.t.EncodeSeqNum(sv) != uint32(c) {
						continue
					}
					out = append(out, msgRef{seq: uint32(c), uid: fs.uids[sv-1]})
				}
			}
			return sortRefs(out)
		}
		lo, hi := seqBounds(set)
		for i := 0; i < n; i++ {
			cs := sel.t.EncodeSeqNum(uint32(i + 1))
			if cs == 0 || cs < lo || cs > hi || !set.Contains(cs) {
				continue
			}
			out = append(out, msgRef{seq: cs, uid: fs.uids[i]})
		}
	case imap.UIDSet:
		var last uint32
		if n > 0 {
			last = fs.uids[n-1]
		}
		set = staticUID(set, last)
		// Binary-search each range in the sorted UID list.
		for _, r := range set {
			lo, hi := uint32(min(r.Start, r.Stop)), uint32(max(r.Start, r.Stop))
			i, _ := slices.BinarySearch(fs.uids, lo)
			for ; i < n && fs.uids[i] <= hi; i++ {
				if cs := sel.t.EncodeSeqNum(uint32(i + 1)); cs != 0 {
					out = append(out, msgRef{seq: cs, uid: fs.uids[i]})
				}
			}
		}
		return sortRefs(out)
	}
	return out
}

// seqSpan is how many sequence numbers set names (overlaps counted twice).
func seqSpan(set imap.SeqSet) uint64 {
	var n uint64
	for _, r := range set {
		n += uint64(max(r.Start, r.Stop)-min(r.Start, r.Stop)) + 1
	}
	return n
}

// sortRefs orders refs by sequence number and drops duplicates (a set
// such as "5,1:6" names message 5 twice; it gets one response).
func sortRefs(refs []msgRef) []msgRef {
	slices.SortFunc(refs, func(a, b msgRef) int { return int(a.seq) - int(b.seq) })
	return slices.CompactFunc(refs, func(a, b msgRef) bool { return a.seq == b.seq })
}

// staticSeq replaces "*" (0) with max, as imapmemserver does.
func staticSeq(set imap.SeqSet, max uint32) imap.SeqSet {
	out := slices.Clone(set)
	for i := range out {
		staticRange(&out[i].Start, &out[i].Stop, max)
	}
	return out
}

func staticUID(set imap.UIDSet, max uint32) imap.UIDSet {
	out := slices.Clone(set)
	for i := range out {
		staticRange((*uint32)(&out[i].Start), (*uint32)(&out[i].Stop), max)
	}
	return out
}

func staticRange(start, stop *uint32, max uint32) {
	dyn := false
	if *start == 0 {
		*start, dyn = max, true
	}
	if *stop == 0 {
		*stop, dyn = max, true
	}
	if dyn && *start > *stop {
		*start, *stop = *stop, *start
	}
}

func seqBounds(set imap.SeqSet) (lo, hi uint32) {
	lo = ^uint32(0)
	for _, r := range set {
		a, b := r.Start, r.Stop
		if a > b {
			a, b = b, a
		}
		lo, hi = min(lo, a), max(hi, b)
	}
	return lo, hi
}

func refUIDs(refs []msgRef) []uint32 {
	out := make([]uint32, len(refs))
	for i, r := range refs {
		out[i] = r.uid
	}
	return out
}

func (s *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, sf *imap.StoreFlags, so *imap.StoreOptions) error {
	defer s.observe("STORE", time.Now())
	if err := checkFlags(sf.Flags); err != nil {
		return err
	}
	flags := fromIMAPFlags(sf.Flags)
	op := acl.OpSetSeen
	if sf.Op == imap.StoreFlagsSet || slices.ContainsFunc(flags, func(f string) bool { return f != `\Seen` }) {
		op = acl.OpWrite
	}
	if err := s.needSel(op); err != nil {
		return err
	}
	// A STORE to a message another session expunged (and this one was
	// not told of yet) is ignored: the others are stored and the command
	// succeeds, as RFC 2180 §4.2.1 allows and Dovecot does.
	refs := s.refs(numSet)
	if len(refs) == 0 {
		return nil
	}
	var fop store.FlagOp
	switch sf.Op {
	case imap.StoreFlagsAdd:
		fop = store.FlagsAdd
	case imap.StoreFlagsDel:
		fop = store.FlagsRemove
	default:
		fop = store.FlagsSet
	}
	// The session is the origin: it reports the new flags below (or was
	// asked not to, with .SILENT), so the registry must not queue them
	// for it again.
	// With UNCHANGEDSINCE (RFC 7162 §3.1.3) the store leaves alone, in
	// the same transaction, the messages changed after that modseq.
	var cond *uint64
	if so.HasUnchangedSince {
		cond = &so.UnchangedSince
	}
	res, err := s.srv.st.StoreFlagsIf(s.ctx, s.sel.origin, s.sel.fid, refUIDs(refs), fop, flags, s.user, cond)
	if err != nil {
		return mapStoreErr(err)
	}
	shown := make(shownFlags, len(res.Flags))
	for uid, fl := range res.Flags {
		shown.add(uid, fl, res.ModSeq[uid])
	}
	s.overtaken(shown, !sf.Silent)
	// Once CONDSTORE is on, each response carries the MODSEQ, and a
	// .SILENT store still reports it (without the flags).
	withModSeq := w.CondStoreEnabled()
	if !sf.Silent || withModSeq {
		defer s.batch()()
	}
	for _, r := range refs {
		fl, ok := res.Flags[r.uid]
		if !ok || sf.Silent && !withModSeq {
			continue
		}
		if !sf.Silent {
			if err := s.announce(fl); err != nil {
				return err
			}
		}
		mw := w.CreateMessage(r.seq)
		mw.WriteUID(imap.UID(r.uid))
		if !sf.Silent {
			mw.WriteFlags(toIMAPFlags(s.sel.recent.flags(r.uid, fl)))
		}
		if withModSeq {
			mw.WriteModSeq(res.ModSeq[r.uid])
		}
		if err := mw.Close(); err != nil {
			return err
		}
	}
	if len(res.Modified) > 0 {
		_, uidForm := numSet.(imap.UIDSet)
		return modifiedError(refs, res.Modified, uidForm)
	}
	return nil
}

func (s *session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	defer s.observe("EXPUNGE", time.Now())
	if err := s.needSel(acl.OpExpunge); err != nil {
		if w.ForClose() {
			return nil // CLOSE of a read-only folder just closes it
		}
		return err
	}
	st := s.srv.st
	var victims []uint32
	if uids != nil {
		refs := s.refs(*uids)
		flags, err := st.FlagsOfAs(s.ctx, s.sel.fid, refUIDs(refs), s.sel.viewer)
		if err != nil {
			return mapStoreErr(err)
		}
		for _, f := range flags {
			if hasFlag(f.Flags, `\Deleted`) {
				victims = append(victims, f.UID)
			}
		}
		if len(victims) == 0 {
			return nil
		}
	}
	// The store publishes the expunge before returning; the tracker then
	// queues one EXPUNGE per message and go-imap's post-command poll writes
	// them in order.
	_, err := st.Expunge(s.ctx, s.sel.fid, victims, s.user)
	return mapStoreErr(err)
}

// dest resolves a COPY/MOVE destination folder and checks copy-into.
func (s *session) dest(name string) (*store.Folder, error) {
	t, err := s.resolve(name)
	if err != nil {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	}
	if err := need(t, acl.OpCopyInto); err != nil {
		return nil, err
	}
	f, err := s.srv.st.GetFolder(s.ctx, t.mb.ID, t.folder)
	if err != nil {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	}
	return f, nil
}

func copyData(res *store.CopyResult) *imap.CopyData {
	d := &imap.CopyData{UIDValidity: res.DestUIDValidity}
	for i := range res.SrcUIDs {
		d.SourceUIDs.AddNum(imap.UID(res.SrcUIDs[i]))
		d.DestUIDs.AddNum(imap.UID(res.DestUIDs[i]))
	}
	return d
}

func (s *session) Copy(numSet imap.NumSet, destName string) (*imap.CopyData, error) {
	defer s.observe("COPY", time.Now())
	if err := s.needSel(acl.OpRead); err != nil {
		return nil, err
	}
	df, err := s.dest(destName)
	if err != nil {
		return nil, err
	}
	refs, gone := s.refsGone(numSet)
	if gone {
		// RFC 2180 §4.4.1: COPY is all or nothing.
		return nil, errExpungeIssued
	}
	if len(refs) == 0 {
		return nil, nil // nothing to copy: plain OK without COPYUID
	}
	res, err := s.srv.st.Copy(s.ctx, s.sel.fid, refUIDs(refs), df.ID, s.user)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	if len(res.SrcUIDs) == 0 {
		return nil, nil
	}
	return copyData(res), nil
}

func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, destName string) error {
	defer s.observe("MOVE", time.Now())
	if err := s.needSel(acl.OpMoveOut); err != nil {
		return err
	}
	df, err := s.dest(destName)
	if err != nil {
		return err
	}
	refs, gone := s.refsGone(numSet)
	if gone {
		return errExpungeIssued
	}
	if len(refs) == 0 {
		return nil
	}
	res, err := s.srv.st.Move(s.ctx, s.sel.fid, refUIDs(refs), df.ID, s.user)
	if err != nil {
		return mapStoreErr(err)
	}
	if len(res.SrcUIDs) == 0 {
		return nil
	}
	// EXPUNGEs follow from the tracker in go-imap's post-command poll.
	return w.WriteCopyData(copyData(res))
}
