package imapd

import (
	"testing"
	"time"
)

// heldState returns the registry's state of folder fid (nil: not open).
func (e *env) heldState(fid uint64) *folderState {
	e.srv.reg.mu.Lock()
	defer e.srv.reg.mu.Unlock()
	return e.srv.reg.folders[fid][""]
}

// TestSelectAgainKeepsFolderState: go-imap unselects before every SELECT,
// which closed the last reference to the folder's state, so selecting the
// same folder again read every UID of it again (issue 19: SELECT should
// not grow with the folder after the first open). The session keeps its
// last folder open until the next SELECT has opened its own, and lets go
// of it at logout.
func TestSelectAgainKeepsFolderState(t *testing.T) {
	e := newEnv(t)
	inbox := e.mailbox("alice@example.com")
	e.deliver(inbox, "INBOX", testMessage(1))
	fid := mustFolderID(t, e, inbox, "INBOX")
	arch := mustFolderID(t, e, inbox, "Archive")
	rc := rawLogin(t, e.addr, "alice@example.com")
	rc.Cmd("SELECT INBOX")
	first := e.heldState(fid)
	if first == nil {
		t.Fatal("INBOX not open after SELECT")
	}
	rc.Cmd("SELECT INBOX")
	if again := e.heldState(fid); again != first {
		t.Fatalf("SELECT INBOX again loaded a new state (%p, was %p)", again, first)
	}
	e.deliver(inbox, "INBOX", testMessage(2))
	rc.Cmd("CLOSE")
	if e.heldState(fid) != first {
		t.Fatal("CLOSE dropped the folder state at once")
	}
	u, tagged := rc.Cmd("SELECT INBOX")
	wantLine(t, "SELECT after CLOSE and a delivery", u, tagged, "* 2 EXISTS")
	if e.heldState(fid) != first {
		t.Fatal("SELECT after CLOSE loaded a new state")
	}
	rc.Cmd("SELECT Archive")
	if e.heldState(fid) != nil || e.heldState(arch) == nil {
		t.Fatalf("after SELECT Archive: INBOX state %p (want none), Archive %p", e.heldState(fid), e.heldState(arch))
	}
	rc.Cmd("LOGOUT")
	for range 100 {
		if e.heldState(arch) == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("folder state still open after LOGOUT")
}
