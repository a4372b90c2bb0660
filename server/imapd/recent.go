package imapd

// \Recent for IMAP4rev1 sessions (RFC 3501 §2.3.2, §6.3.1, §7.3.2).
//
// The folder's recent boundary is kept in the store (store/recent.go):
// a SELECT claims every message above it, and so does a selected session
// when it is told of new messages (Poll, IDLE), so each message is
// \Recent in exactly one session. EXAMINE and STATUS only look: they show
// the messages nobody has claimed and change nothing (RFC 3501 §6.3.2).
// A session that ENABLEd IMAP4rev2 before SELECT has no \Recent at all
// (RFC 9051 drops it), and claims nothing, so a rev1 client still sees
// the message as \Recent.

import (
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailsrv/store"
)

const flagRecent = `\Recent`

// recentView is what is \Recent in one session's selection. A nil view
// (IMAP4rev2) has nothing \Recent.
type recentView struct {
	uids    []uint32 // ascending
	claimed uint32   // the highest UID this session asked the store for
	examine bool     // look, never claim
}

// newRecentView is a SELECT's or EXAMINE's view of folder fs, given the
// folder's boundary as read with the folder record. It claims, unless
// examine, up to the highest UID the folder has now.
func (s *session) newRecentView(fs *folderState, boundary uint32, examine bool) (*recentView, error) {
	if s.conn.EnabledCaps().Has(imap.CapIMAP4rev2) {
		return nil, nil
	}
	r := &recentView{claimed: boundary, examine: examine}
	if examine {
		fs.mu.Lock()
		r.uids = uidsAbove(fs.uids, boundary, ^uint32(0))
		fs.mu.Unlock()
		return r, nil
	}
	_, err := r.claim(s, fs)
	return r, err
}

// claim asks the store for the messages of fs above what this session
// already asked for, adds those it got to the view, and reports how many.
func (r *recentView) claim(s *session, fs *folderState) (int, error) {
	if r == nil || r.examine {
		return 0, nil
	}
	fs.mu.Lock()
	var last uint32
	if n := len(fs.uids); n > 0 {
		last = fs.uids[n-1]
	}
	fs.mu.Unlock()
	if last <= r.claimed {
		return 0, nil
	}
	prev, err := s.srv.st.ClaimRecent(s.ctx, fs.fid, last)
	if err != nil {
		return 0, err
	}
	r.claimed = last
	if prev >= last {
		return 0, nil // another session was first
	}
	fs.mu.Lock()
	got := uidsAbove(fs.uids, prev, last)
	fs.mu.Unlock()
	r.uids = append(r.uids, got...)
	return len(got), nil
}

// uidsAbove returns a copy of the UIDs u of sorted uids with lo < u <= hi.
func uidsAbove(uids []uint32, lo, hi uint32) []uint32 {
	i, _ := slices.BinarySearch(uids, lo+1)
	j, found := slices.BinarySearch(uids, hi)
	if found {
		j++
	}
	if i >= j {
		return nil
	}
	return slices.Clone(uids[i:j])
}

// has reports whether uid is \Recent in this session.
func (r *recentView) has(uid uint32) bool {
	if r == nil {
		return false
	}
	_, ok := slices.BinarySearch(r.uids, uid)
	return ok
}

// flags returns fl with \Recent added when uid is \Recent here (a new
// slice then: fl is not modified).
func (r *recentView) flags(uid uint32, fl []string) []string {
	if !r.has(uid) {
		return fl
	}
	return append(slices.Clip(fl), flagRecent)
}

// count is how many of this session's \Recent messages are still in fs.
func (r *recentView) count(fs *folderState) uint32 {
	if r == nil {
		return 0
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var n uint32
	for _, uid := range r.uids {
		if _, ok := slices.BinarySearch(fs.uids, uid); ok {
			n++
		}
	}
	return n
}

// pollRecent claims the messages the session was just told of and, when
// it got any, sends the new "* n RECENT" (ignored by go-imap for rev2).
func (s *session) pollRecent(w *imapserver.UpdateWriter) error {
	sel := s.sel
	if sel == nil || sel.recent == nil {
		return nil
	}
	n, err := sel.recent.claim(s, sel.fs)
	if err != nil || n == 0 {
		return err
	}
	return w.WriteNumRecent(sel.recent.count(sel.fs))
}

// statusRecent counts the messages of folder fid above boundary, the ones
// no session has claimed yet (STATUS RECENT; it claims nothing).
func (s *session) statusRecent(fid uint64, boundary, uidNext uint32) (uint32, error) {
	if uidNext <= boundary+1 {
		return 0, nil
	}
	uids, err := s.srv.st.FolderUIDs(s.ctx, fid)
	if err != nil {
		return 0, err
	}
	return uint32(len(uidsAbove(uids, boundary, ^uint32(0)))), nil
}

// firstUnseen is the sequence number of the selection's first message
// without \Seen, for IMAP4rev1's "* OK [UNSEEN n]" (0: none, or rev2).
func (s *session) firstUnseen(f *store.Folder) uint32 {
	if s.conn.EnabledCaps().Has(imap.CapIMAP4rev2) {
		return 0
	}
	if n, err := s.srv.st.UnseenAs(s.ctx, f, s.sel.viewer); err != nil || n == 0 {
		return 0
	}
	// The first unseen message by UID is the first by sequence number;
	// one that is not in this session's view yet (delivered meanwhile)
	// has no number to give. A member of a per-member mailbox: their own.
	uid, ok, err := s.srv.st.FirstUnseen(s.ctx, f.ID)
	if s.sel.viewer != "" {
		uid, ok, err = s.firstUnseenOwn(f)
	}
	if err != nil {
		s.log.Warn("SELECT: reading flags for UNSEEN", "folder", f.Name, "err", err)
		return 0
	}
	if ok {
		fs := s.sel.fs
		fs.mu.Lock()
		i, found := slices.BinarySearch(fs.uids, uid)
		fs.mu.Unlock()
		if found {
			return uint32(i) + 1
		}
	}
	return 0
}

// firstUnseenOwn is FirstUnseen with the member's own \Seen
// (store/seen_member.go).
func (s *session) firstUnseenOwn(f *store.Folder) (uint32, bool, error) {
	flags, err := s.srv.st.FolderFlags(s.ctx, f.ID)
	if err != nil {
		return 0, false, err
	}
	fs := s.sel.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, fl := range flags {
		if !hasFlag(fs.viewFlags(fl.UID, fl.Flags), `\Seen`) {
			return fl.UID, true, nil
		}
	}
	return 0, false, nil
}
