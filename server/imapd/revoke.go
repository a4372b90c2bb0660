package imapd

import (
	"errors"
	"sync"

	"github.com/emersion/go-imap/v2"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// A member whose read right on a shared folder is revoked (or whose
// shared mailbox is removed) while the folder is selected must receive
// nothing more from it (SPEC §5, issue 12 #5): before any untagged data of
// such a folder goes out (the poll after every command, IDLE), the rights
// are read again, and when they are gone the selection ends with the
// untagged response "NO [NOPERM] Access to <folder> was revoked; it is no
// longer selected". The session returns to the authenticated state (the
// patched go-imap's Conn.EndSelection): commands on the selected mailbox
// are refused as if none were selected, while LIST, SELECT of another
// folder and the rest of the session go on. The connection is not closed,
// because one folder's revoke should not cut a member off their own mail.
//
// aclWatch wakes IDLE sessions when rights on their mailbox change, so
// that an idling member is told at once rather than at the next delivery.
type aclWatch struct {
	mu      sync.Mutex
	waiters map[uint64]map[chan struct{}]struct{} // mailbox id → IDLE sessions
}

func newACLWatch() *aclWatch {
	return &aclWatch{waiters: map[uint64]map[chan struct{}]struct{}{}}
}

// handle runs on the store's committer goroutine; it never blocks.
func (w *aclWatch) handle(ev store.Event) {
	if ev.Kind != store.EventACL && ev.Kind != store.EventMailbox {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.waiters[ev.MailboxID] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// watch returns a channel that receives after each rights change on
// mailbox mbid, and the function that stops watching.
func (w *aclWatch) watch(mbid uint64) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.waiters[mbid] == nil {
		w.waiters[mbid] = map[chan struct{}]struct{}{}
	}
	w.waiters[mbid][ch] = struct{}{}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.waiters[mbid], ch)
		if len(w.waiters[mbid]) == 0 {
			delete(w.waiters, mbid)
		}
	}
}

// endIfRevoked ends the selection when the user may no longer read the
// selected folder; ended reports that it did, and nothing of the folder
// may be written then. A store error sends nothing and is returned.
func (s *session) endIfRevoked() (ended bool, err error) {
	if s.sel == nil || !s.sel.checkACL {
		return false, nil
	}
	r, err := s.srv.st.RightsOf(s.ctx, s.sel.mb.ID, s.user)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, mapStoreErr(err)
	}
	if err == nil && acl.Allows(r, acl.OpRead) {
		if mb, merr := s.srv.st.Mailbox(s.ctx, s.sel.mb.ID); merr == nil && mb.Deleted == nil {
			return false, nil
		}
	}
	name := s.sel.name
	s.srv.log.Info("read right on the selected shared folder is gone; ending the selection",
		"user", s.user, "mailbox", s.sel.mb.Address, "folder", name)
	s.unselect()
	return true, s.conn.EndSelection(imap.ResponseCodeNoPerm, "Access to "+name+" was revoked; it is no longer selected")
}
