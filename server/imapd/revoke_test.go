package imapd

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"mailsrv/store"
)

// readUntil reads lines until one has the prefix, failing after within.
func (rc *rawConn) readUntil(prefix string, within time.Duration) []string {
	rc.T.Helper()
	rc.C.SetDeadline(time.Now().Add(within))
	var lines []string
	for {
		l, err := rc.R.ReadString('\n')
		if err != nil {
			rc.T.Fatalf("waiting for %q: %v (got %q)", prefix, err, lines)
		}
		lines = append(lines, strings.TrimRight(l, "\r\n"))
		if strings.HasPrefix(l, prefix) {
			return lines
		}
	}
}

func checkRevokedNotice(t *testing.T, who string, lines []string) {
	t.Helper()
	notice := false
	for _, l := range lines {
		if strings.Contains(l, "EXISTS") || strings.Contains(l, "FETCH") || strings.Contains(l, "EXPUNGE") {
			t.Errorf("%s: revoked member got folder data: %q", who, l)
		}
		if strings.HasPrefix(l, "* NO [NOPERM]") && strings.Contains(l, "revoked") {
			notice = true
		}
	}
	if !notice {
		t.Errorf("%s: want * NO [NOPERM] ... revoked, got %q", who, lines)
	}
}

// Issue 12 #5 (SPEC §5): after `shared revoke`, a member's open sessions
// on the shared folder get no more EXISTS/FETCH/EXPUNGE, in IDLE or after
// NOOP/CHECK, but a clear untagged NO [NOPERM] saying access was revoked;
// the selection ends and the rest of the session goes on.
func TestRevokedMemberGetsNoUpdates(t *testing.T) {
	e := newEnv(t)
	folder := "Shared/info@example.com/INBOX"
	e.deliver(e.info.ID, "INBOX", testMessage(1))

	idler := rawLogin(t, e.addr, "bob@example.com")
	nooper := rawLogin(t, e.addr, "bob@example.com")
	checker := rawLogin(t, e.addr, "bob@example.com")
	delegate := rawLogin(t, e.addr, `bob@example.com\info@example.com`)
	for _, c := range []*rawConn{idler, nooper, checker} {
		if _, tagged := c.Cmd(`SELECT "` + folder + `"`); !strings.HasPrefix(tagged, " OK") {
			t.Fatalf("SELECT: %s", tagged)
		}
	}
	if _, tagged := delegate.Cmd("SELECT INBOX"); !strings.HasPrefix(tagged, " OK") {
		t.Fatalf("delegate SELECT: %s", tagged)
	}
	// Before the revoke, updates flow: a delivery reaches NOOP.
	e.deliver(e.info.ID, "INBOX", testMessage(2))
	if untagged, _ := nooper.Cmd("NOOP"); !containsLine(untagged, "2 EXISTS") {
		t.Fatalf("before the revoke, NOOP got %q", untagged)
	}
	for _, c := range []*rawConn{idler, checker, delegate} {
		c.Cmd("NOOP") // takes the delivery's EXISTS: what follows is after the revoke
	}
	fmt.Fprintf(idler.C, "i1 IDLE\r\n")
	if l, err := idler.R.ReadString('\n'); err != nil || !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE: %q %v", l, err)
	}
	// Alice (the owner) keeps her session and sees the delivery.
	alice := rawLogin(t, e.addr, "alice@example.com")
	if _, tagged := alice.Cmd(`SELECT "` + folder + `"`); !strings.HasPrefix(tagged, " OK") {
		t.Fatalf("alice SELECT: %s", tagged)
	}

	if err := e.st.Revoke(t.Context(), e.info.ID, "bob@example.com", "admin"); err != nil {
		t.Fatal(err)
	}
	e.deliver(e.info.ID, "INBOX", testMessage(3))
	e.st.StoreFlagsFrom(t.Context(), 0, mustFolderID(t, e, e.info.ID, "INBOX"), []uint32{1}, store.FlagsAdd, []string{`\Flagged`}, "alice@example.com")

	// The idler is told at once, without waiting for DONE.
	checkRevokedNotice(t, "IDLE", idler.readUntil("* NO", 5*time.Second))
	fmt.Fprintf(idler.C, "DONE\r\n")
	if lines := idler.readUntil("i1 ", 5*time.Second); !strings.HasPrefix(lines[len(lines)-1], "i1 OK") {
		t.Fatalf("IDLE after the revoke: %q", lines)
	}

	for name, c := range map[string]*rawConn{"NOOP": nooper, "CHECK": checker, "delegate NOOP": delegate, "IDLE": idler} {
		cmd := strings.Fields(name)[len(strings.Fields(name))-1]
		if name != "IDLE" {
			untagged, tagged := c.Cmd(cmd)
			checkRevokedNotice(t, name, untagged)
			if !strings.HasPrefix(tagged, " OK") {
				t.Errorf("%s: %s", name, tagged)
			}
		}
		// The selection is over; the session is not.
		if _, tagged := c.Cmd("FETCH 1 (FLAGS)"); !strings.HasPrefix(tagged, " BAD") {
			t.Errorf("%s: FETCH after the revoke: %s", name, tagged)
		}
		if untagged, tagged := c.Cmd("NOOP"); !strings.HasPrefix(tagged, " OK") || len(untagged) != 0 {
			t.Errorf("%s: NOOP after the revoke: %q %s", name, untagged, tagged)
		}
	}
	if _, tagged := nooper.Cmd(`SELECT "` + folder + `"`); !strings.HasPrefix(tagged, " NO") {
		t.Errorf("SELECT after the revoke: %s", tagged)
	}
	if _, tagged := nooper.Cmd("SELECT INBOX"); !strings.HasPrefix(tagged, " OK") {
		t.Errorf("SELECT of bob's own INBOX after the revoke: %s", tagged)
	}

	if untagged, tagged := alice.Cmd("NOOP"); !strings.HasPrefix(tagged, " OK") || !containsLine(untagged, "3 EXISTS") {
		t.Fatalf("the owner's session: %q %s", untagged, tagged)
	}
}

func mustFolderID(t *testing.T, e *env, mbid uint64, name string) uint64 {
	t.Helper()
	f, err := e.st.GetFolder(t.Context(), mbid, name)
	if err != nil {
		t.Fatal(err)
	}
	return f.ID
}
