package imapd

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"mailsrv/internal/testkit"
	"mailsrv/store"
)

// rawConn speaks IMAP line by line (testkit.IMAP), for what imapclient
// hides: tagged response codes and exactly which untagged responses
// arrive; this package's tests add commands of their own to it.
type rawConn struct{ *testkit.IMAP }

// rawLogin opens a rawConn to addr and logs in as user.
func rawLogin(t *testing.T, addr, user string) *rawConn {
	t.Helper()
	m := testkit.DialIMAP(t, addr)
	m.Login(user, testPassword)
	return &rawConn{m}
}

// SPEC §5: SELECT of a shared folder without manage answers [READ-ONLY];
// with manage, and for one's own folders, [READ-WRITE]; EXAMINE is always
// [READ-ONLY].
func TestSelectReadOnlyCode(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		user, cmd, folder, code string
	}{
		{"bob@example.com", "SELECT", "Shared/info@example.com/INBOX", "[READ-ONLY]"},
		{"carol@example.com", "SELECT", "Shared/info@example.com/INBOX", "[READ-WRITE]"},
		{"alice@example.com", "SELECT", "Shared/info@example.com/INBOX", "[READ-WRITE]"},
		{"bob@example.com", "SELECT", "INBOX", "[READ-WRITE]"},
		{"bob@example.com", "EXAMINE", "INBOX", "[READ-ONLY]"},
		{"carol@example.com", "EXAMINE", "Shared/info@example.com/Sent", "[READ-ONLY]"},
		// Delegate login as info@ with only read.
		{`bob@example.com\info@example.com`, "SELECT", "INBOX", "[READ-ONLY]"},
	} {
		_, got := rawLogin(t, e.addr, tc.user).Cmd(fmt.Sprintf(`%s "%s"`, tc.cmd, tc.folder))
		want := " OK " + tc.code + " " + tc.cmd + " completed"
		if got != want {
			t.Errorf("%s: %s %s = %q, want %q", tc.user, tc.cmd, tc.folder, got, want)
		}
	}
}

// A STORE reports the new flags once, not once more as an unsolicited
// update of the same change; .SILENT reports nothing (RFC 9051 6.4.6).
// Other sessions on the folder still get the update.
func TestStoreReportsFlagsOnce(t *testing.T) {
	e := newEnv(t)
	e.deliver(e.mailbox("alice@example.com"), "INBOX", testMessage(1))
	a := rawLogin(t, e.addr, "alice@example.com")
	other := rawLogin(t, e.addr, "alice@example.com")
	a.Cmd("SELECT INBOX")
	other.Cmd("SELECT INBOX")

	fetches := func(lines []string) int {
		n := 0
		for _, l := range lines {
			if strings.HasPrefix(l, "* 1 FETCH") {
				n++
			}
		}
		return n
	}
	un, tagged := a.Cmd(`STORE 1 +FLAGS (\Flagged)`)
	if !strings.HasPrefix(tagged, " OK") || fetches(un) != 1 {
		t.Fatalf("STORE: untagged %q, tagged %q; want one FETCH", un, tagged)
	}
	un, _ = a.Cmd(`STORE 1 +FLAGS.SILENT (\Answered)`)
	if n := fetches(un); n != 0 {
		t.Fatalf(".SILENT STORE sent %d FETCH: %q", n, un)
	}
	un, _ = a.Cmd("NOOP")
	if n := fetches(un); n != 0 {
		t.Fatalf("own change echoed at NOOP: %q", un)
	}
	// The other session learns about both changes.
	deadline := time.Now().Add(5 * time.Second)
	for {
		un, _ = other.Cmd("NOOP")
		if len(un) > 0 && strings.Contains(strings.Join(un, " "), `\Answered`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("other session never saw the flags: %q", un)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// If a change cannot be applied to an open folder's state (a bug: go-imap's
// tracker panics when counts go out of step), the server survives, the
// folder's sessions are disconnected rather than left with sequence
// numbers that may point at other messages, and a new SELECT works.
func TestBrokenFolderStateDisconnectsItsSessions(t *testing.T) {
	e := newEnv(t)
	alice := e.mailbox("alice@example.com")
	e.deliver(alice, "INBOX", testMessage(1))
	a := rawLogin(t, e.addr, "alice@example.com")
	a.Cmd("SELECT INBOX")
	f, err := e.st.GetFolder(t.Context(), alice, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	e.srv.reg.mu.Lock()
	fs := e.srv.reg.folders[f.ID][""]
	e.srv.reg.mu.Unlock()
	// Simulate the bug: a UID the tracker was never told about, then its
	// expunge, which makes the tracker panic.
	fs.mu.Lock()
	fs.uids = append(fs.uids, 9999)
	fs.mu.Unlock()
	e.srv.reg.handle(store.Event{Kind: store.EventExpunge, FolderID: f.ID, UIDs: []uint32{9999}})

	fmt.Fprintf(a.C, "a9 NOOP\r\n")
	lines := a.UntilClosed()
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "* BYE") {
		t.Fatalf("session on the broken folder got %q, want BYE and a closed connection", lines)
	}
	// A new session gets a fresh, correct state.
	b := rawLogin(t, e.addr, "alice@example.com")
	un, tagged := b.Cmd("SELECT INBOX")
	if !strings.Contains(tagged, "OK") || !slices.Contains(un, "* 1 EXISTS") {
		t.Fatalf("SELECT after the failure: %q %q", un, tagged)
	}
}

// A member's SUBSCRIBE/UNSUBSCRIBE on a shared folder is their own: the
// other members keep their view (Thunderbird shows subscribed folders only).
func TestSharedFolderSubscriptionsArePerMember(t *testing.T) {
	e := newEnv(t)
	lsub := func(rc *rawConn) []string {
		un, _ := rc.Cmd(`LSUB "" "*"`)
		return un
	}
	has := func(lines []string, name string) bool {
		return slices.ContainsFunc(lines, func(l string) bool { return strings.HasSuffix(l, `"`+name+`"`) })
	}
	const junk = "Shared/info@example.com/Junk"
	bob := rawLogin(t, e.addr, "bob@example.com")
	carol := rawLogin(t, e.addr, "carol@example.com")
	if !has(lsub(bob), junk) || !has(lsub(carol), junk) {
		t.Fatalf("shared folders not subscribed by default: %q", lsub(bob))
	}
	if _, tagged := bob.Cmd(`UNSUBSCRIBE "` + junk + `"`); !strings.Contains(tagged, "OK") {
		t.Fatalf("UNSUBSCRIBE: %s", tagged)
	}
	if has(lsub(bob), junk) {
		t.Fatal("bob still subscribed after UNSUBSCRIBE")
	}
	if !has(lsub(carol), junk) {
		t.Fatal("bob's UNSUBSCRIBE changed carol's subscriptions")
	}
	// Delegate login as info@: the same per-member subscription.
	del := rawLogin(t, e.addr, `bob@example.com\info@example.com`)
	if has(lsub(del), "Junk") {
		t.Fatal("delegate login does not see bob's own unsubscription")
	}
	bob.Cmd(`SUBSCRIBE "` + junk + `"`)
	if !has(lsub(bob), junk) {
		t.Fatal("SUBSCRIBE did not restore the subscription")
	}
	// The owner's personal folders still use the folder's own flag.
	alice := rawLogin(t, e.addr, "alice@example.com")
	alice.Cmd(`UNSUBSCRIBE "Archive"`)
	if has(lsub(alice), "Archive") {
		t.Fatal("personal UNSUBSCRIBE had no effect")
	}
}
