package imapd

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// readUntilTag reads lines up to and including the one tagged tag; it
// fails the test on any other tagged line (a command that should never
// have run) or when the connection ends.
func (rc *rawConn) readUntilTag(tag string) (lines []string, tagged string) {
	rc.T.Helper()
	rc.C.SetDeadline(time.Now().Add(10 * time.Second))
	for {
		l, err := rc.R.ReadString('\n')
		if err != nil {
			rc.T.Fatalf("waiting for %s: %v (got %q)", tag, err, lines)
		}
		l = strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(l, tag+" ") {
			return lines, l
		}
		if !strings.HasPrefix(l, "* ") && !strings.HasPrefix(l, "+") {
			rc.T.Fatalf("waiting for %s: unexpected %q (bytes of a refused command ran as a command)", tag, l)
		}
		lines = append(lines, l)
	}
}

// Issue 12 #7: bytes that belong to a refused command never run as a
// command: the literal of an APPEND refused for its date (non-sync and
// sync), a refused non-sync literal over 4 KiB, and the tail of a line
// over the 50 KiB limit.
func TestRefusedCommandBytesNeverRun(t *testing.T) {
	e := newEnv(t)
	c := rawLogin(t, e.addr, "alice@example.com")
	send := func(s string) { fmt.Fprint(c.C, s) }

	// Non-synchronising literal after a bad date: its 28 bytes are the
	// message the client meant to append, not a command.
	inject := "x1 CREATE Injected1\r\nxxx\r\n\r\n"
	if len(inject) != 28 {
		t.Fatal(len(inject))
	}
	send(`a1 APPEND INBOX "32-Foo-2024 99:99:99 +0000" {28+}` + "\r\n" + inject + "\r\n")
	send("a2 NOOP\r\n")
	if _, tagged := c.readUntilTag("a1"); !strings.HasPrefix(tagged, "a1 BAD") {
		t.Fatalf("APPEND with a bad date: %q", tagged)
	}
	c.readUntilTag("a2")

	// Synchronising literal: no continuation is sent, the command ends,
	// and what the client sends next is its next command.
	send(`b1 APPEND INBOX "32-Foo-2024 99:99:99 +0000" {21}` + "\r\n")
	lines, tagged := c.readUntilTag("b1")
	if !strings.HasPrefix(tagged, "b1 BAD") || len(lines) != 0 {
		t.Fatalf("APPEND with a bad date and a sync literal: %q %q", lines, tagged)
	}
	send("b2 NOOP\r\n")
	c.readUntilTag("b2")

	// A literal after the bad part, on a later line: still skipped.
	send("c1 LOGIN {3+}\r\nabc {22+}\r\nx2 CREATE Injected2\r\n\r\n")
	send("c2 NOOP\r\n")
	if _, tagged := c.readUntilTag("c1"); !strings.HasPrefix(tagged, "c1 BAD") && !strings.HasPrefix(tagged, "c1 NO") {
		t.Fatalf("LOGIN when authenticated: %q", tagged)
	}
	c.readUntilTag("c2")

	// A non-sync literal over LITERAL-'s 4 KiB for a buffered argument is
	// refused; its data, which the client sends anyway, is dropped.
	big := "x3 CREATE Injected3\r\n" + strings.Repeat("y", 5000-21)
	send(fmt.Sprintf("d1 CREATE {%d+}\r\n%s\r\n", len(big), big))
	send("d2 NOOP\r\n")
	if _, tagged := c.readUntilTag("d1"); !strings.Contains(tagged, " BAD") && !strings.Contains(tagged, " NO") {
		t.Fatalf("CREATE with a 5000-byte literal: %q", tagged)
	}
	c.readUntilTag("d2")

	// A 60 KiB line is refused whole: its tail is not a command.
	long := "e1 CREATE " + strings.Repeat("a", 60<<10) + " x4 CREATE Injected4\r\n"
	send(long)
	send("e2 NOOP\r\n")
	if _, tagged := c.readUntilTag("e1"); !strings.HasPrefix(tagged, "e1 BAD") || !strings.Contains(tagged, "too long") {
		t.Fatalf("60 KiB line: %q", tagged)
	}
	c.readUntilTag("e2")
	// The same with the cut landing inside what looks like a command.
	long = "f1 NOOP " + strings.Repeat(" ", 50<<10) + "\r\n"
	send(long + "f2 NOOP\r\n")
	c.readUntilTag("f1")
	c.readUntilTag("f2")

	untagged, tagged := c.Cmd(`LIST "" "Injected*"`)
	if !strings.HasPrefix(tagged, " OK") || len(untagged) != 0 {
		t.Fatalf("a refused command's bytes created folders: %q %s", untagged, tagged)
	}
	if n := len(e.inboxUIDs("alice@example.com")); n != 0 {
		t.Fatalf("a refused APPEND stored %d messages", n)
	}
}

func (e *env) inboxUIDs(addr string) []uint32 {
	e.t.Helper()
	f, err := e.st.GetFolder(e.t.Context(), e.mailbox(addr), "INBOX")
	if err != nil {
		e.t.Fatal(err)
	}
	uids, err := e.st.FolderUIDs(e.t.Context(), f.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return uids
}
