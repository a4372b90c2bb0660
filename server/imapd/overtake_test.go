package imapd

import (
	"bufio"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func rawLoginSession(t *testing.T, addr, user string) *rawSession {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	r := &rawSession{t: t, c: nc, br: bufio.NewReader(nc)}
	if _, err := r.br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	r.cmd("l", "LOGIN "+user+" \""+testPassword+"\"")
	return r
}

var fetchUID1 = regexp.MustCompile(`^\* 1 FETCH \((.*)\)\r\n$`)
var modSeqRe = regexp.MustCompile(`MODSEQ \((\d+)\)`)
var flagsRe = regexp.MustCompile(`FLAGS \(([^)]*)\)`)

// checkView returns the last FLAGS shown for message 1 in lines and fails
// if its MODSEQ ever went down.
func checkView(t *testing.T, what string, lines []string, last uint64) (string, uint64) {
	t.Helper()
	var flags string
	for _, l := range lines {
		m := fetchUID1.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if ms := modSeqRe.FindStringSubmatch(m[1]); ms != nil {
			v, _ := strconv.ParseUint(ms[1], 10, 64)
			if v < last {
				t.Fatalf("%s: MODSEQ went down from %d to %d: %q", what, last, v, l)
			}
			last = v
		}
		if f := flagsRe.FindStringSubmatch(m[1]); f != nil {
			flags = f[1]
		}
	}
	return flags, last
}

// TestReplyOvertakesQueuedFlagUpdate: another session's flag change that is
// still queued for this session must not be written after this session's
// own STORE reply, which already shows a newer state (imaptest: "MODSEQ
// dropped"); after a .SILENT STORE the client still learns the other
// session's change, at the current MODSEQ.
func TestReplyOvertakesQueuedFlagUpdate(t *testing.T) {
	e := newEnv(t)
	e.deliver(e.mailbox("alice@example.com"), "INBOX", testMessage(1))
	a := rawLoginSession(t, e.addr, "alice@example.com")
	b := rawLoginSession(t, e.addr, "alice@example.com")
	a.cmd("a1", "ENABLE CONDSTORE")
	a.cmd("a2", "SELECT INBOX")
	b.cmd("b1", "SELECT INBOX")

	b.cmd("b2", `STORE 1 +FLAGS (\Flagged)`) // queued for a
	lines := a.cmd("a3", `STORE 1 +FLAGS (\Seen)`)
	lines = append(lines, a.cmd("a4", "NOOP")...)
	flags, last := checkView(t, "STORE", lines, 0)
	if !strings.Contains(flags, `\Flagged`) || !strings.Contains(flags, `\Seen`) {
		t.Fatalf("after its STORE the session last saw FLAGS (%s), want \\Flagged and \\Seen; lines %q", flags, lines)
	}

	b.cmd("b3", `STORE 1 +FLAGS ($Label1)`) // queued for a
	lines = a.cmd("a5", `STORE 1 +FLAGS.SILENT (\Answered)`)
	lines = append(lines, a.cmd("a6", "NOOP")...)
	flags, _ = checkView(t, "STORE.SILENT", lines, last)
	for _, want := range []string{`$Label1`, `\Answered`, `\Flagged`, `\Seen`} {
		if !strings.Contains(flags, want) {
			t.Fatalf("after a .SILENT STORE the session last saw FLAGS (%s), missing %s; lines %q", flags, want, lines)
		}
	}
}
