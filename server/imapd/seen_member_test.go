package imapd

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailsrv/internal/testkit"
)

var modseqRE = regexp.MustCompile(`MODSEQ \((\d+)\)`)
var highestRE = regexp.MustCompile(`HIGHESTMODSEQ (\d+)`)

func fetchLine(lines []string, uid string) string {
	for _, l := range lines {
		if strings.Contains(l, " FETCH ") && strings.Contains(l, "UID "+uid+" ") || strings.Contains(l, "UID "+uid+")") {
			return l
		}
	}
	return ""
}

// Per-member \Seen over the wire (SPEC §6 --seen per-member): alice,
// bob (read only) and carol (manage) each see their own \Seen and unread
// counts; a member's \Seen reaches only that member's sessions and moves
// only that member's MODSEQ (CHANGEDSINCE stays exact for each); shared
// flags reach everyone with each one's own \Seen; switching back to
// shared marks \Seen what anyone had read and makes open sessions
// reconnect.
func TestPerMemberSeenOverTheWire(t *testing.T) {
	e := newEnv(t)
	if _, err := e.st.SetSeenMode(t.Context(), e.info.ID, true, "admin"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		e.deliver(e.info.ID, "INBOX", testMessage(i))
	}
	const inbox = `"Shared/info@example.com/INBOX"`
	open := func(user string) (*rawConn, uint64) {
		c := rawLogin(t, e.addr, user)
		c.ok("ENABLE CONDSTORE")
		return c, testkit.FirstNum(t, highestRE, c.ok("SELECT "+inbox))
	}
	a1, h0 := open("alice@example.com")
	a2, _ := open("alice@example.com")
	b1, _ := open("bob@example.com")
	c1, _ := open("carol@example.com")

	// alice reads message 1: her other session hears of it, nobody else.
	l := a1.ok("UID STORE 1 +FLAGS (\\Seen)")
	m1 := testkit.FirstNum(t, modseqRE, l)
	if !strings.Contains(fetchLine(l, "1"), `\Seen`) || m1 <= h0 {
		t.Fatalf("alice's STORE: %q (HIGHESTMODSEQ was %d)", l, h0)
	}
	if got := a2.ok("NOOP"); !strings.Contains(fetchLine(got, "1"), `\Seen`) {
		t.Errorf("alice's second session: %q", got)
	}
	for who, c := range map[string]*rawConn{"bob": b1, "carol": c1} {
		if got := c.ok("NOOP"); hasLine(got, "FETCH") {
			t.Errorf("%s heard of alice's \\Seen: %q", who, got)
		}
	}
	unseen := func(c *rawConn) string {
		for _, l := range c.ok("STATUS " + inbox + " (UNSEEN)") {
			if strings.HasPrefix(l, "* STATUS") {
				return l[strings.Index(l, "(")+1 : len(l)-1]
			}
		}
		return ""
	}
	if u := unseen(a1); u != "UNSEEN 2" {
		t.Errorf("alice's STATUS: %s", u)
	}
	if u := unseen(b1); u != "UNSEEN 3" {
		t.Errorf("bob's STATUS: %s", u)
	}
	search := func(c *rawConn) string {
		for _, l := range c.ok("UID SEARCH UNSEEN") {
			if strings.HasPrefix(l, "* SEARCH") {
				return strings.TrimSpace(strings.TrimPrefix(l, "* SEARCH"))
			}
		}
		return ""
	}
	if s := search(a1); s != "2 3" {
		t.Errorf("alice's SEARCH UNSEEN: %q", s)
	}
	if s := search(b1); s != "1 2 3" {
		t.Errorf("bob's SEARCH UNSEEN: %q", s)
	}
	// CONDSTORE: exact for each member.
	if got := b1.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + strconv.FormatUint(h0, 10) + ")"); hasLine(got, "FETCH") {
		t.Errorf("bob's CHANGEDSINCE shows alice's \\Seen: %q", got)
	}
	got := a1.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + strconv.FormatUint(h0, 10) + ")")
	if len(got) != 1 || !strings.Contains(got[0], "MODSEQ ("+strconv.FormatUint(m1, 10)+")") {
		t.Errorf("alice's CHANGEDSINCE: %q", got)
	}

	// bob (read only) reads message 2 with BODY[]: his \Seen only.
	got = b1.ok("UID FETCH 2 (BODY[])")
	if !strings.Contains(strings.Join(got, "\n"), `\Seen`) {
		t.Errorf("bob's FETCH BODY[] did not set his \\Seen: %q", got)
	}
	if got := a1.ok("UID FETCH 2 (FLAGS)"); strings.Contains(fetchLine(got, "2"), `\Seen`) {
		t.Errorf("bob's read changed alice's view: %q", got)
	}
	if got := a1.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + strconv.FormatUint(m1, 10) + ")"); hasLine(got, "FETCH") {
		t.Errorf("alice's CHANGEDSINCE shows bob's \\Seen: %q", got)
	}
	if u := unseen(b1); u != "UNSEEN 2" {
		t.Errorf("bob's STATUS after reading: %s", u)
	}

	// carol flags message 1 (shared): everyone hears, each with their \Seen.
	c1.ok("UID STORE 1 +FLAGS.SILENT (\\Flagged)")
	ga, gb := a2.ok("NOOP"), b1.ok("NOOP")
	if fa := fetchLine(ga, "1"); !strings.Contains(fa, `\Flagged`) || !strings.Contains(fa, `\Seen`) || testkit.FirstNum(t, modseqRE, ga) <= m1 {
		t.Errorf("alice after carol's \\Flagged: %q", ga)
	}
	if fb := fetchLine(gb, "1"); !strings.Contains(fb, `\Flagged`) || strings.Contains(fb, `\Seen`) {
		t.Errorf("bob after carol's \\Flagged: %q", gb)
	}

	// IDLE: alice's idling session gets her \Seen of message 3 (and bob's
	// idling session nothing, until carol's shared change comes).
	idle := func(c *rawConn) {
		c.C.Write([]byte("i IDLE\r\n"))
		c.readUntil("+", 10*time.Second)
	}
	idle(a2)
	idle(b1)
	a1.ok("UID STORE 3 +FLAGS.SILENT (\\Seen)")
	if l := a2.readUntil("* 3 FETCH", 10*time.Second); !strings.Contains(l[len(l)-1], `\Seen`) {
		t.Errorf("alice's IDLE: %q", l)
	}
	c1.ok("UID STORE 3 +FLAGS.SILENT (\\Answered)")
	if l := b1.readUntil("* 3 FETCH", 10*time.Second); len(l) != 1 || strings.Contains(l[0], `\Seen`) || !strings.Contains(l[0], `\Answered`) {
		t.Errorf("bob's IDLE got %q, want only carol's \\Answered without alice's \\Seen", l)
	}
	for _, c := range []*rawConn{a2, b1} {
		c.C.Write([]byte("DONE\r\n"))
		c.readUntil("i OK", 10*time.Second)
	}

	// Back to shared: \Seen where anyone had read; open sessions reconnect.
	if _, err := e.st.SetSeenMode(t.Context(), e.info.ID, false, "admin"); err != nil {
		t.Fatal(err)
	}
	a1.NextTag()
	a1.C.Write([]byte("x NOOP\r\n"))
	a1.readUntil("* BYE", 20*time.Second)
	c2, _ := open("carol@example.com")
	got = c2.ok("UID FETCH 1:3 (FLAGS)")
	if !strings.Contains(fetchLine(got, "1"), `\Seen`) || !strings.Contains(fetchLine(got, "2"), `\Seen`) || !strings.Contains(fetchLine(got, "3"), `\Seen`) {
		t.Errorf("shared after the switch back: %q", got)
	}
	audit, err := e.st.AuditLog(t.Context(), e.info.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var modes []string
	for _, a := range audit {
		if a.Action == "seen mode" {
			modes = append(modes, a.Detail)
		}
	}
	if strings.Join(modes, ",") != "per-member,shared" {
		t.Errorf("audited modes: %q", modes)
	}
}
