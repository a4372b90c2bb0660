package imapd

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailsrv/internal/testkit"
	"mailsrv/store"
)

func rawLoginSession(t *testing.T, addr, user string) *testkit.IMAP {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	r := testkit.NewIMAP(t, nc)
	r.MustOK("l", "LOGIN "+user+" \""+testPassword+"\"")
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
	a.MustOK("a1", "ENABLE CONDSTORE")
	a.MustOK("a2", "SELECT INBOX")
	b.MustOK("b1", "SELECT INBOX")

	b.MustOK("b2", `STORE 1 +FLAGS (\Flagged)`) // queued for a
	lines := a.MustOK("a3", `STORE 1 +FLAGS (\Seen)`)
	lines = append(lines, a.MustOK("a4", "NOOP")...)
	flags, last := checkView(t, "STORE", lines, 0)
	if !strings.Contains(flags, `\Flagged`) || !strings.Contains(flags, `\Seen`) {
		t.Fatalf("after its STORE the session last saw FLAGS (%s), want \\Flagged and \\Seen; lines %q", flags, lines)
	}

	b.MustOK("b3", `STORE 1 +FLAGS ($Label1)`) // queued for a
	lines = a.MustOK("a5", `STORE 1 +FLAGS.SILENT (\Answered)`)
	lines = append(lines, a.MustOK("a6", "NOOP")...)
	flags, _ = checkView(t, "STORE.SILENT", lines, last)
	for _, want := range []string{`$Label1`, `\Answered`, `\Flagged`, `\Seen`} {
		if !strings.Contains(flags, want) {
			t.Fatalf("after a .SILENT STORE the session last saw FLAGS (%s), missing %s; lines %q", flags, want, lines)
		}
	}
}

// TestReplyOvertakesUpdatePublishedLate: a group commit makes its changes
// visible before it publishes their events, so a FETCH can read a
// message's flags at MODSEQ n while another session's older change of it
// (m < n) has not been queued for this session yet. That update must not
// follow the reply (imaptest stress: 1–2 "MODSEQ dropped" per 20 s after
// the overtaking fix above). The committer is held on the first event of
// a batch of three changes, so the other two are committed and not yet
// published while the FETCH runs.
func TestReplyOvertakesUpdatePublishedLate(t *testing.T) {
	e := newEnv(t)
	inbox := e.mailbox("alice@example.com")
	e.deliver(inbox, "INBOX", testMessage(1))
	e.deliver(inbox, "INBOX", testMessage(2))
	fid := mustFolderID(t, e, inbox, "INBOX")
	a := rawLoginSession(t, e.addr, "alice@example.com")
	a.MustOK("a1", "ENABLE CONDSTORE")
	a.MustOK("a2", "SELECT INBOX")

	held, release := make(chan uint64), make(chan struct{})
	hold := e.st.NewOrigin()
	cancel := e.st.Subscribe(func(ev store.Event) {
		if ev.Origin == hold {
			held <- ev.ModSeq
			<-release
		}
	})
	defer cancel()
	change := func(origin store.Origin, uid uint32, flag string) <-chan error {
		done := make(chan error, 1)
		go func() {
			_, err := e.st.StoreFlagsFrom(t.Context(), origin, fid, []uint32{uid}, store.FlagsAdd, []string{flag}, "alice@example.com")
			done <- err
		}()
		return done
	}
	// W0 holds the committer, so W1..W3 queue up and form one batch.
	w0 := change(hold, 2, "$Hold0")
	<-held
	w1 := change(hold, 2, "$Hold1")
	time.Sleep(100 * time.Millisecond)
	w2 := change(0, 1, `\Flagged`)
	time.Sleep(100 * time.Millisecond)
	w3 := change(0, 1, `\Seen`)
	time.Sleep(200 * time.Millisecond)
	release <- struct{}{}
	if err := <-w0; err != nil {
		t.Fatal(err)
	}
	<-held // W1's event: W2 and W3 are committed, their events wait
	fl, err := e.st.FlagsOf(t.Context(), fid, []uint32{1})
	if err != nil || len(fl) != 1 || !slices.Contains(fl[0].Flags, `\Seen`) || !slices.Contains(fl[0].Flags, `\Flagged`) {
		close(release)
		t.Fatalf("precondition: W2 and W3 not committed with W1 (flags %v, %v)", fl, err)
	}
	if _, err := fmt.Fprintf(a.C, "a3 FETCH 1 (FLAGS MODSEQ)\r\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the FETCH reads before the events are out
	release <- struct{}{}
	for _, w := range []<-chan error{w1, w2, w3} {
		if err := <-w; err != nil {
			t.Fatal(err)
		}
	}
	lines := a.Until("a3")
	lines = append(lines, a.MustOK("a4", "NOOP")...)
	flags, last := checkView(t, "FETCH", lines, 0)
	if last != fl[0].ModSeq || !strings.Contains(flags, `\Flagged`) || !strings.Contains(flags, `\Seen`) {
		t.Fatalf("session last saw FLAGS (%s) MODSEQ %d, want \\Flagged \\Seen at %d; lines %q", flags, last, fl[0].ModSeq, lines)
	}
}

// A reply that overtakes queued updates without showing flags (a .SILENT
// STORE under CONDSTORE) rewrites the first queued update of the message
// to the current flags. When that update sits ahead of the queued FLAGS
// announcing a keyword another session used first, the keyword must
// still be announced before any FETCH shows it (RFC 3501 §7.2.6; imaptest
// stress: "Keyword used without being in FLAGS").
func TestOvertakeRewriteAnnouncesKeywordFirst(t *testing.T) {
	e := newEnv(t)
	e.deliver(e.mailbox("alice@example.com"), "INBOX", testMessage(1))
	a := rawLoginSession(t, e.addr, "alice@example.com")
	b := rawLoginSession(t, e.addr, "alice@example.com")
	a.MustOK("a1", "ENABLE CONDSTORE")
	a.MustOK("a2", "SELECT INBOX")
	b.MustOK("b1", "SELECT INBOX")
	b.MustOK("b2", `STORE 1 +FLAGS (\Flagged)`) // queued for a: FETCH
	b.MustOK("b3", `STORE 1 +FLAGS ($Label3)`)  // queued for a: FLAGS, FETCH
	lines := a.MustOK("a3", `STORE 1 +FLAGS.SILENT (\Answered)`)
	lines = append(lines, a.MustOK("a4", "NOOP")...)
	announced := false
	for _, l := range lines {
		if strings.HasPrefix(l, "* FLAGS ") && strings.Contains(l, "$Label3") {
			announced = true
		}
		if strings.Contains(l, " FETCH ") && strings.Contains(l, "$Label3") && !announced {
			t.Fatalf("FETCH shows $Label3 before FLAGS announced it: %q", lines)
		}
	}
	if flags, _ := checkView(t, "STORE.SILENT", lines, 0); !strings.Contains(flags, "$Label3") {
		t.Fatalf("the session never saw $Label3: %q", lines)
	}
}
