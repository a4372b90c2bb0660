package imapd

import (
	"fmt"
	"math/rand"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailsrv/auth"
	"mailsrv/internal/testkit"
	"mailsrv/store"
)

func hasLine(lines []string, sub string) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, sub) })
}

// ok sends a command that must succeed and returns its untagged lines.
func (rc *rawConn) ok(line string) []string {
	rc.T.Helper()
	lines, tagged := rc.Cmd(line)
	if !strings.HasPrefix(tagged, " OK") {
		rc.T.Fatalf("%s: %s (untagged %q)", line, tagged, lines)
	}
	return lines
}

// parseUIDSet reads "1,3:5" (no "*").
func parseUIDSet(t *testing.T, s string) imap.UIDSet {
	var set imap.UIDSet
	for _, part := range strings.Split(s, ",") {
		lo, hi, found := strings.Cut(part, ":")
		a, err1 := strconv.ParseUint(lo, 10, 32)
		b := a
		var err2 error
		if found {
			b, err2 = strconv.ParseUint(hi, 10, 32)
		}
		if err1 != nil || err2 != nil {
			t.Fatalf("bad UID set %q", s)
		}
		set.AddRange(imap.UID(min(a, b)), imap.UID(max(a, b)))
	}
	return set
}

// TestCondStoreWire walks RFC 7162 and RFC 4731 over raw lines: the
// capabilities, ENABLE, HIGHESTMODSEQ in SELECT and STATUS, FETCH MODSEQ
// and CHANGEDSINCE, STORE UNCHANGEDSINCE with [MODIFIED], SEARCH MODSEQ
// with and without ESEARCH, VANISHED for another session's expunge and
// UID FETCH (CHANGEDSINCE n VANISHED).
func TestCondStoreWire(t *testing.T) {
	e := newEnv(t)
	alice := e.mailbox("alice@example.com")
	for i := 0; i < 3; i++ {
		e.deliver(alice, "INBOX", testMessage(i))
	}
	a := rawLogin(t, e.addr, "alice@example.com")
	caps, _ := a.Cmd("CAPABILITY")
	for _, c := range []string{" CONDSTORE", " QRESYNC", " ESEARCH"} {
		if !hasLine(caps, c) {
			t.Fatalf("CAPABILITY lacks %s: %q", c, caps)
		}
	}
	// Without CONDSTORE enabled SELECT says nothing of modseqs.
	if l := a.ok("SELECT INBOX"); hasLine(l, "HIGHESTMODSEQ") {
		t.Fatalf("HIGHESTMODSEQ before CONDSTORE: %q", l)
	}
	if l := a.ok("SELECT INBOX (CONDSTORE)"); !hasLine(l, "* OK [HIGHESTMODSEQ 4]") {
		t.Fatalf("SELECT (CONDSTORE): %q", l)
	}
	if _, tagged := a.Cmd("SELECT INBOX (QRESYNC (1 1))"); !strings.HasPrefix(tagged, " BAD") {
		t.Fatalf("QRESYNC without ENABLE: %s", tagged)
	}
	if l := a.ok("ENABLE QRESYNC"); !hasLine(l, "* ENABLED QRESYNC") {
		t.Fatalf("ENABLE: %q", l)
	}
	if l := a.ok("SELECT INBOX"); !hasLine(l, "* OK [HIGHESTMODSEQ 4]") {
		t.Fatalf("SELECT: %q", l)
	}
	if l := a.ok("STATUS INBOX (MESSAGES HIGHESTMODSEQ)"); !hasLine(l, "HIGHESTMODSEQ 4") {
		t.Fatalf("STATUS: %q", l)
	}
	l := a.ok("FETCH 1:* (MODSEQ)")
	for i, want := range []string{"* 1 FETCH (UID 1 FLAGS () MODSEQ (2))", "* 2 FETCH (UID 2 FLAGS () MODSEQ (3))", "* 3 FETCH (UID 3 FLAGS () MODSEQ (4))"} {
		if i >= len(l) || l[i] != want {
			t.Fatalf("FETCH MODSEQ: %q", l)
		}
	}
	if l := a.ok(`STORE 1 +FLAGS (\Seen)`); !hasLine(l, `* 1 FETCH (UID 1 FLAGS (\Seen) MODSEQ (5))`) {
		t.Fatalf("STORE: %q", l)
	}
	// Message 1 changed at 5, after 3: it is left alone and reported.
	l, tagged := a.Cmd(`UID STORE 1,2 (UNCHANGEDSINCE 3) +FLAGS (\Flagged)`)
	if !strings.HasPrefix(tagged, " OK [MODIFIED 1]") || !hasLine(l, `* 2 FETCH (UID 2 FLAGS (\Flagged) MODSEQ (6))`) || hasLine(l, "* 1 FETCH") {
		t.Fatalf("UNCHANGEDSINCE: %q %s", l, tagged)
	}
	// UNCHANGEDSINCE 0 fails for every message (RFC 7162 §3.1.3).
	if l, tagged := a.Cmd(`STORE 3 (UNCHANGEDSINCE 0) +FLAGS (\Seen)`); !strings.HasPrefix(tagged, " OK [MODIFIED 3]") || len(l) != 0 {
		t.Fatalf("UNCHANGEDSINCE 0: %q %s", l, tagged)
	}
	l = a.ok("FETCH 1:* (FLAGS) (CHANGEDSINCE 4)")
	if len(l) != 2 || !strings.Contains(l[0], "UID 1 ") || !strings.Contains(l[0], "MODSEQ (5)") || !strings.Contains(l[1], "MODSEQ (6)") {
		t.Fatalf("CHANGEDSINCE: %q", l)
	}
	if l := a.ok("SEARCH MODSEQ 5"); !hasLine(l, "* SEARCH 1 2 (MODSEQ 6)") {
		t.Fatalf("SEARCH MODSEQ: %q", l)
	}
	if l := a.ok(`UID SEARCH MODSEQ "/flags/\\draft" all 6`); !hasLine(l, "* SEARCH 2 (MODSEQ 6)") {
		t.Fatalf("SEARCH MODSEQ entry: %q", l)
	}
	l = a.ok("SEARCH RETURN (MIN MAX COUNT ALL) MODSEQ 5")
	if !hasLine(l, "MIN 1 MAX 2 COUNT 2") || !hasLine(l, "ALL 1:2") || !hasLine(l, "MODSEQ 6") {
		t.Fatalf("ESEARCH: %q", l)
	}
	if l := a.ok("UID SEARCH RETURN (COUNT) ALL"); !hasLine(l, "UID COUNT 3") {
		t.Fatalf("ESEARCH COUNT: %q", l)
	}

	// Another session expunges message 3: this one hears VANISHED, not
	// EXPUNGE, with QRESYNC enabled.
	b := rawLogin(t, e.addr, "alice@example.com")
	b.ok("SELECT INBOX")
	b.ok(`STORE 3 +FLAGS.SILENT (\Deleted)`)
	if l := b.ok("EXPUNGE"); !hasLine(l, "* 3 EXPUNGE") {
		t.Fatalf("b (no QRESYNC) EXPUNGE: %q", l)
	}
	l = a.ok("NOOP")
	if !hasLine(l, `FETCH (UID 3 FLAGS (\Deleted) MODSEQ (7))`) || !hasLine(l, "* VANISHED 3") || hasLine(l, "EXPUNGE") {
		t.Fatalf("NOOP after the other session's expunge: %q", l)
	}
	l = a.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE 6 VANISHED)")
	if len(l) != 1 || l[0] != "* VANISHED (EARLIER) 3" {
		t.Fatalf("UID FETCH VANISHED: %q", l)
	}
	if _, tagged := a.Cmd("FETCH 1:* (FLAGS) (CHANGEDSINCE 6 VANISHED)"); !strings.HasPrefix(tagged, " BAD") {
		t.Fatalf("VANISHED without UID: %s", tagged)
	}
	// Its own EXPUNGE is VANISHED too.
	a.ok(`STORE 2 +FLAGS.SILENT (\Deleted)`)
	if l := a.ok("EXPUNGE"); !hasLine(l, "* VANISHED 2") || hasLine(l, "EXPUNGE") {
		t.Fatalf("own EXPUNGE: %q", l)
	}
}

var (
	reVanished = regexp.MustCompile(`^\* VANISHED \(EARLIER\) (\S+)$`)
	reFetch    = regexp.MustCompile(`^\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\) MODSEQ \((\d+)\)\)$`)
	reModSeq   = regexp.MustCompile(`HIGHESTMODSEQ (\d+)`)
	reUIDVal   = regexp.MustCompile(`UIDVALIDITY (\d+)`)
)

// TestQResyncAfterOfflinePeriod: a client logs out, a second session
// makes random flag changes, expunges and deliveries, and the client's
// QRESYNC SELECT must bring its cached copy to exactly the state a replay
// of those operations gives, which must also be the store's. Several
// rounds, so later resyncs start from a modseq that itself came from one.
func TestQResyncAfterOfflinePeriod(t *testing.T) {
	e := newEnv(t)
	alice := e.mailbox("alice@example.com")
	model := map[uint32][]string{} // the replay of every operation
	for i := 0; i < 20; i++ {
		model[e.deliver(alice, "INBOX", testMessage(i))] = nil
	}
	// The client's cache, from a full sync.
	cache := map[uint32][]string{}
	c := rawLogin(t, e.addr, "alice@example.com")
	c.ok("ENABLE QRESYNC")
	l := c.ok("SELECT INBOX")
	uidValidity, modseq := testkit.FirstNum(t, reUIDVal, l), testkit.FirstNum(t, reModSeq, l)
	for _, line := range c.ok("UID FETCH 1:* (FLAGS MODSEQ)") {
		m := reFetch.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("FETCH line %q", line)
		}
		uid, _ := strconv.Atoi(m[1])
		cache[uint32(uid)] = storedFlags(m[2])
	}
	c.Cmd("LOGOUT")

	rng := rand.New(rand.NewSource(7))
	flagsPool := []string{`\Seen`, `\Flagged`, `\Answered`, `$Label1`, `\Draft`}
	for round := 0; round < 4; round++ {
		o := rawLogin(t, e.addr, "alice@example.com")
		o.ok("SELECT INBOX")
		for op := 0; op < 30; op++ {
			uids := sortedUIDs(model)
			switch k := rng.Intn(10); {
			case k < 6 && len(uids) > 0:
				uid := uids[rng.Intn(len(uids))]
				fl := flagsPool[rng.Intn(len(flagsPool))]
				sign := "+"
				if rng.Intn(3) == 0 {
					sign = "-"
				}
				o.ok(fmt.Sprintf("UID STORE %d %sFLAGS.SILENT (%s)", uid, sign, fl))
				if sign == "+" {
					model[uid] = normalized(append(slices.Clone(model[uid]), fl))
				} else {
					model[uid] = slices.DeleteFunc(slices.Clone(model[uid]), func(x string) bool { return x == fl })
				}
			case k < 8 && len(uids) > 0:
				uid := uids[rng.Intn(len(uids))]
				o.ok(fmt.Sprintf(`UID STORE %d +FLAGS.SILENT (\Deleted)`, uid))
				o.ok(fmt.Sprintf("UID EXPUNGE %d", uid))
				delete(model, uid)
			default:
				model[e.deliver(alice, "INBOX", testMessage(100+op))] = nil
			}
		}
		o.Cmd("LOGOUT")

		c = rawLogin(t, e.addr, "alice@example.com")
		c.ok("ENABLE QRESYNC")
		known := knownSet(cache)
		l = c.ok(fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d %s))", uidValidity, modseq, known))
		newModSeq := testkit.FirstNum(t, reModSeq, l)
		if newModSeq <= modseq {
			t.Fatalf("round %d: HIGHESTMODSEQ %d after changes from %d", round, newModSeq, modseq)
		}
		for _, line := range l {
			if m := reVanished.FindStringSubmatch(line); m != nil {
				set := parseUIDSet(t, m[1])
				for uid := range cache {
					if set.Contains(imap.UID(uid)) {
						delete(cache, uid)
					}
				}
			} else if m := reFetch.FindStringSubmatch(line); m != nil {
				uid, _ := strconv.Atoi(m[1])
				if ms, _ := strconv.ParseUint(m[3], 10, 64); ms <= modseq || ms > newModSeq {
					t.Fatalf("round %d: FETCH modseq %d outside (%d, %d]: %q", round, ms, modseq, newModSeq, line)
				}
				cache[uint32(uid)] = storedFlags(m[2])
			}
		}
		modseq = newModSeq
		// New messages are learnt by UID FETCH of what is past the cache.
		var top uint32
		for uid := range cache {
			top = max(top, uid)
		}
		for _, line := range c.ok(fmt.Sprintf("UID FETCH %d:* (FLAGS MODSEQ)", top+1)) {
			if m := reFetch.FindStringSubmatch(line); m != nil {
				uid, _ := strconv.Atoi(m[1])
				if uint32(uid) > top {
					cache[uint32(uid)] = storedFlags(m[2])
				}
			}
		}
		c.Cmd("LOGOUT")

		want := fmt.Sprint(sortedState(model))
		if got := fmt.Sprint(sortedState(cache)); got != want {
			t.Fatalf("round %d: resynced cache\n%s\nreplay\n%s\nQRESYNC answer %q", round, got, want, l)
		}
		f, _ := e.st.GetFolder(t.Context(), alice, "INBOX")
		ff, _ := e.st.FolderFlags(t.Context(), f.ID)
		st := map[uint32][]string{}
		for _, x := range ff {
			st[x.UID] = x.Flags
		}
		if got := fmt.Sprint(sortedState(st)); got != want {
			t.Fatalf("round %d: store\n%s\nreplay\n%s", round, got, want)
		}
	}
}

func sortedUIDs(m map[uint32][]string) []uint32 {
	var out []uint32
	for u := range m {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

func normalized(fl []string) []string {
	slices.Sort(fl)
	return slices.Compact(fl)
}

func sortedState(m map[uint32][]string) []string {
	var out []string
	for _, u := range sortedUIDs(m) {
		out = append(out, fmt.Sprintf("%d:%s", u, strings.Join(normalized(slices.Clone(m[u])), ",")))
	}
	return out
}

func knownSet(cache map[uint32][]string) string {
	var s imap.UIDSet
	for _, u := range sortedUIDs(cache) {
		s.AddNum(imap.UID(u))
	}
	return s.String()
}

// TestQResyncTooFarBehind: when the tombstones a client needs were pruned,
// VANISHED (EARLIER) lists every known UID that is gone (a superset is
// allowed), so the client still ends up right.
func TestQResyncTooFarBehind(t *testing.T) {
	if got := missingUIDs(nil, []uint32{2, 5, 6}, 9).String(); got != "1,3:4,7:8" {
		t.Fatalf("missing: %s", got)
	}
	known := imap.UIDSet{{Start: 3, Stop: 7}}
	if got := missingUIDs(known, []uint32{2, 5, 6}, 9).String(); got != "3:4,7" {
		t.Fatalf("missing of known: %s", got)
	}
	if got := missingUIDs(nil, nil, 1).String(); got != "" {
		t.Fatalf("empty folder: %q", got)
	}
}

// TestSharedFolderModSeq: two members of a shared mailbox see each
// other's flag changes with MODSEQ and expunges as VANISHED.
func TestSharedFolderModSeq(t *testing.T) {
	e := newEnv(t)
	e.deliver(e.info.ID, "INBOX", testMessage(1))
	e.deliver(e.info.ID, "INBOX", testMessage(2))
	const box = `"Shared/info@example.com/INBOX"`
	a := rawLogin(t, e.addr, "alice@example.com")
	c := rawLogin(t, e.addr, "carol@example.com")
	a.ok("ENABLE QRESYNC")
	c.ok("ENABLE CONDSTORE")
	if l := a.ok("SELECT " + box); !hasLine(l, "HIGHESTMODSEQ 3") {
		t.Fatalf("a SELECT: %q", l)
	}
	if l := c.ok("SELECT " + box); !hasLine(l, "HIGHESTMODSEQ 3") {
		t.Fatalf("c SELECT: %q", l)
	}
	c.ok(`STORE 1 +FLAGS (\Flagged)`)
	waitLine(t, a, `* 1 FETCH (UID 1 FLAGS (\Flagged) MODSEQ (4))`)
	a.ok(`STORE 2 +FLAGS.SILENT (\Deleted)`)
	a.ok("EXPUNGE")
	// carol has CONDSTORE, not QRESYNC: EXPUNGE, and the flag change
	// before it with its MODSEQ.
	l := waitLine(t, c, "* 2 EXPUNGE")
	if !hasLine(l, `* 2 FETCH (UID 2 FLAGS (\Deleted) MODSEQ (5))`) {
		t.Fatalf("carol: %q", l)
	}
	if l := c.ok("STATUS " + box + " (HIGHESTMODSEQ)"); !hasLine(l, "HIGHESTMODSEQ 6") {
		t.Fatalf("c STATUS: %q", l)
	}
}

// waitLine sends NOOPs until an untagged line containing want arrives and
// returns everything received meanwhile.
func waitLine(t *testing.T, rc *rawConn, want string) []string {
	t.Helper()
	var all []string
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		l, _ := rc.Cmd("NOOP")
		all = append(all, l...)
		if hasLine(all, want) {
			return all
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q in %q", want, all)
	return nil
}

// TestQResyncIdleVanished: during IDLE, another session's expunge reaches
// a QRESYNC client as VANISHED and a flag change as FETCH with MODSEQ.
func TestQResyncIdleVanished(t *testing.T) {
	e := newEnv(t)
	alice := e.mailbox("alice@example.com")
	for i := 0; i < 3; i++ {
		e.deliver(alice, "INBOX", testMessage(i))
	}
	a := rawLogin(t, e.addr, "alice@example.com")
	a.ok("ENABLE QRESYNC")
	a.ok("SELECT INBOX")
	fmt.Fprintf(a.C, "i1 IDLE\r\n")
	if l, err := a.R.ReadString('\n'); err != nil || !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE: %q %v", l, err)
	}
	b := rawLogin(t, e.addr, "alice@example.com")
	b.ok("SELECT INBOX")
	b.ok(`UID STORE 1 +FLAGS.SILENT (\Flagged)`)
	b.ok(`UID STORE 2 +FLAGS.SILENT (\Deleted)`)
	b.ok("UID EXPUNGE 2")
	var got []string
	for !hasLine(got, "* VANISHED 2") {
		l, err := a.R.ReadString('\n')
		if err != nil {
			t.Fatalf("IDLE updates %q: %v", got, err)
		}
		got = append(got, strings.TrimRight(l, "\r\n"))
	}
	fmt.Fprintf(a.C, "DONE\r\n")
	if l, _ := a.R.ReadString('\n'); !strings.HasPrefix(l, "i1 OK") {
		t.Fatalf("after DONE: %q", l)
	}
	if !hasLine(got, `* 1 FETCH (UID 1 FLAGS (\Flagged) MODSEQ (5))`) || hasLine(got, "EXPUNGE") {
		t.Fatalf("IDLE updates: %q", got)
	}
	if l := a.ok("NOOP"); hasLine(l, "VANISHED") {
		t.Fatalf("VANISHED twice: %q", l)
	}
}

// TestQResyncBehindPrunedTombstones: a client whose modseq is older than
// the pruned tombstones (30 days) still learns every expunge: VANISHED
// (EARLIER) then lists all known UIDs that are gone.
func TestQResyncBehindPrunedTombstones(t *testing.T) {
	var (
		mu  sync.Mutex
		now = time.Now()
	)
	st, err := store.Open(t.TempDir(), store.Options{NoSync: true, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.AddDomain(t.Context(), store.Domain{Name: "example.com"})
	hash, _ := auth.HashPassword(testPassword)
	if _, err := st.AddUser(t.Context(), "alice@example.com", "alice", hash); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st}
	e.start(Options{})
	alice := e.mailbox("alice@example.com")
	for i := 0; i < 5; i++ {
		e.deliver(alice, "INBOX", testMessage(i))
	}
	c := rawLogin(t, e.addr, "alice@example.com")
	c.ok("ENABLE QRESYNC")
	l := c.ok("SELECT INBOX")
	uv, ms := testkit.FirstNum(t, reUIDVal, l), testkit.FirstNum(t, reModSeq, l)
	c.ok(`UID STORE 2 +FLAGS.SILENT (\Deleted)`)
	c.ok("UID EXPUNGE 2")
	c.ok("LOGOUT")
	mu.Lock()
	now = now.Add(31 * 24 * time.Hour)
	mu.Unlock()
	f, _ := st.GetFolder(t.Context(), alice, "INBOX")
	if _, err := st.Expunge(t.Context(), f.ID, []uint32{4}, ""); err != nil { // prunes 2's tombstone
		t.Fatal(err)
	}
	for _, q := range []string{fmt.Sprintf("(%d %d 1:5)", uv, ms), fmt.Sprintf("(%d %d)", uv, ms)} {
		c = rawLogin(t, e.addr, "alice@example.com")
		c.ok("ENABLE QRESYNC")
		l = c.ok("SELECT INBOX (QRESYNC " + q + ")")
		if !slices.Contains(l, "* VANISHED (EARLIER) 2,4") {
			t.Fatalf("QRESYNC %s behind the pruned tombstones: %q", q, l)
		}
		c.ok("LOGOUT")
	}
}

// storedFlags is a FETCH FLAGS list without \Recent, which is the
// session's (RFC 3501 §2.3.2), not part of the stored state.
func storedFlags(list string) []string {
	return slices.DeleteFunc(strings.Fields(list), func(f string) bool { return f == `\Recent` })
}
