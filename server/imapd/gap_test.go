package imapd

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"mailsrv/internal/testkit"
	"mailsrv/store"
)

// TestEventGapResyncs (issue 15: a subscriber detects a gap and
// resyncs): every change to a folder's messages raises its modseq by
// one, so an event whose modseq jumps means the open folder state missed
// a change. Its sessions are disconnected (BYE) instead of going on with
// UIDs and flags that may be wrong, and a new SELECT loads a fresh state;
// an event that follows on by one changes nothing of the kind.
func TestEventGapResyncs(t *testing.T) {
	e := newEnv(t)
	alice := e.mailbox("alice@example.com")
	e.deliver(alice, "INBOX", testMessage(1))
	a := testkit.DialIMAP(t, e.addr)
	a.Login("alice@example.com", testPassword)
	a.MustOK("s", "SELECT INBOX")
	f, err := e.st.GetFolder(t.Context(), alice, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	// In sequence: applied, the session stays.
	e.deliver(alice, "INBOX", testMessage(2))
	if un, tagged := a.Cmd("NOOP"); !strings.HasPrefix(tagged, " OK") || !slices.Contains(un, "* 2 EXISTS") {
		t.Fatalf("NOOP after an event in sequence: %q %q", un, tagged)
	}
	// A gap: modseq two past the folder's.
	f, _ = e.st.GetFolder(t.Context(), alice, "INBOX")
	e.srv.reg.handle(store.Event{Kind: store.EventFlags, MailboxID: alice, FolderID: f.ID,
		UIDs: []uint32{1}, Flags: [][]string{{`\Flagged`}}, ModSeq: f.HighestModSeq + 2})
	fmt.Fprintf(a.C, "n2 NOOP\r\n")
	lines := a.UntilClosed()
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "* BYE") {
		t.Fatalf("session of a folder state that missed a change got %q, want BYE and a closed connection", lines)
	}
	b := testkit.DialIMAP(t, e.addr)
	b.Login("alice@example.com", testPassword)
	un, tagged := b.Cmd("SELECT INBOX")
	if !strings.HasPrefix(tagged, " OK") || !slices.Contains(un, "* 2 EXISTS") {
		t.Fatalf("SELECT after the gap: %q %q", un, tagged)
	}
}
