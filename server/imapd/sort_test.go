package imapd

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailsrv/store"
)

// sortMsg builds a message for the SORT/THREAD tests; refs and inReplyTo
// may be empty.
func sortMsg(id, subject, from, to, date, refs, inReplyTo, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n", from, to, subject, date)
	if id != "" {
		fmt.Fprintf(&b, "Message-ID: %s\r\n", id)
	}
	if refs != "" {
		fmt.Fprintf(&b, "References: %s\r\n", refs)
	}
	if inReplyTo != "" {
		fmt.Fprintf(&b, "In-Reply-To: %s\r\n", inReplyTo)
	}
	b.WriteString("\r\n" + body + "\r\n")
	return b.String()
}

// deliverAt is deliver with an internal (arrival) date.
func (e *env) deliverAt(mbid uint64, msg string, at time.Time) uint32 {
	e.t.Helper()
	w, err := e.st.NewBlob(e.t.Context(), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	io.WriteString(w, msg)
	if err := w.Sync(); err != nil {
		e.t.Fatal(err)
	}
	d, err := e.st.Deliver(e.t.Context(), store.Delivery{Blob: w, InternalDate: at, Targets: []store.Target{{MailboxID: mbid}}})
	if err != nil {
		w.Abort()
		e.t.Fatal(err)
	}
	return d[0].UID
}

var tagRE = regexp.MustCompile(`\(TAG "[^"]*"\)`)

func wantLine(t *testing.T, what string, untagged []string, tagged, want string) {
	t.Helper()
	if !strings.HasPrefix(tagged, " OK") {
		t.Fatalf("%s: %s", what, tagged)
	}
	for _, l := range untagged {
		if tagRE.ReplaceAllString(l, `(TAG "*")`) == tagRE.ReplaceAllString(want, `(TAG "*")`) {
			return
		}
	}
	t.Errorf("%s: want %q, got %q", what, want, untagged)
}

// SORT over the wire with every RFC 5256 key, REVERSE, DISPLAYFROM and
// DISPLAYTO (RFC 5957), search criteria from the SEARCH code, UID SORT,
// ESORT's RETURN options (RFC 5267) and charset refusal.
func TestSortKeys(t *testing.T) {
	e := newEnv(t)
	alice := e.mailbox("alice@example.com")
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	msgs := []struct{ subject, from, to, cc, date, body string }{
		// 1: arrives last by internal date (see below)
		{"Re: [list] Banana", `"Zed Alpha" <carl@x.example>`, "bob@x.example", "", "Tue, 02 Jan 2024 10:00:00 +0000", "a"},
		{"apple", "anna@x.example", `"Young" <zoe@x.example>`, "cc: mike@x.example", "Mon, 01 Jan 2024 10:00:00 +0000", strings.Repeat("b", 500)},
		{"Fwd: cherry (fwd)", `"Bob B" <bob@x.example>`, "adam@x.example", "", "Wed, 03 Jan 2024 09:00:00 +0100", strings.Repeat("c", 100)},
		{"=?UTF-8?Q?=C3=A4pple?= pie", `"Anna" <zack@x.example>`, "", "", "not a date", strings.Repeat("d", 50)},
		{"banana", `<dora@x.example>`, `"Adam" <yves@x.example>`, "", "Thu, 04 Jan 2024 10:00:00 -0500", strings.Repeat("e", 1000)},
	}
	arrival := []time.Duration{5, 1, 2, 3, 4}
	for i, m := range msgs {
		raw := sortMsg(fmt.Sprintf("<s%d@x>", i+1), m.subject, m.from, m.to, m.date, "", "", m.body)
		if m.cc != "" {
			raw = strings.Replace(raw, "\r\n\r\n", "\r\nC"+m.cc[1:]+"\r\n\r\n", 1)
		}
		e.deliverAt(alice, raw, base.Add(arrival[i]*time.Hour))
	}
	rc := rawLogin(t, e.addr, "alice@example.com")
	caps, _ := rc.Cmd("CAPABILITY")
	for _, c := range []string{" SORT", " SORT=DISPLAY", " ESORT", " THREAD=ORDEREDSUBJECT", " THREAD=REFERENCES"} {
		if !strings.Contains(caps[0]+" ", c+" ") {
			t.Errorf("CAPABILITY lacks %s: %s", c, caps[0])
		}
	}
	rc.Cmd("SELECT INBOX")
	for _, tc := range []struct{ cmd, want string }{
		{"SORT (ARRIVAL) UTF-8 ALL", "* SORT 2 3 4 5 1"},
		{"SORT (REVERSE ARRIVAL) US-ASCII ALL", "* SORT 1 5 4 3 2"},
		// Message 4's date does not parse: its internal date (3:00 on
		// Jan 1) is its sent date. 3 is 08:00 UTC on Jan 3.
		{"SORT (DATE) UTF-8 ALL", "* SORT 4 2 1 3 5"},
		{"SORT (REVERSE DATE) UTF-8 ALL", "* SORT 5 3 1 2 4"},
		// Base subjects: banana, apple, cherry, äpple pie, banana.
		{"SORT (SUBJECT) UTF-8 ALL", "* SORT 2 1 5 3 4"},
		{"SORT (SUBJECT REVERSE DATE) UTF-8 ALL", "* SORT 2 5 1 3 4"},
		// FROM compares the mailbox (local part): anna bob carl dora zack.
		{"SORT (FROM) UTF-8 ALL", "* SORT 2 3 1 5 4"},
		// DISPLAYFROM: anna@x.example, Anna, Bob B, dora@x.example, Zed Alpha.
		{"SORT (DISPLAYFROM) UTF-8 ALL", "* SORT 4 2 3 5 1"},
		// TO: "" (none) adam bob yves zoe.
		{"SORT (TO) UTF-8 ALL", "* SORT 4 3 1 5 2"},
		// DISPLAYTO: "", Adam, adam@x.example, bob@x.example, Young.
		{"SORT (DISPLAYTO) UTF-8 ALL", "* SORT 4 5 3 1 2"},
		{"SORT (CC) UTF-8 ALL", "* SORT 1 3 4 5 2"},
		{"SORT (SIZE) UTF-8 ALL", "* SORT 1 4 3 2 5"},
		{"SORT (REVERSE SIZE) UTF-8 ALL", "* SORT 5 2 3 4 1"},
		// Search criteria are SEARCH's.
		{"SORT (SUBJECT) UTF-8 OR SUBJECT banana LARGER 400", "* SORT 2 1 5"},
		{"SORT (DATE) UTF-8 2:4 NOT SUBJECT cherry", "* SORT 4 2"},
		{"SORT (DATE) UTF-8 SUBJECT nothing-matches", "* SORT"},
		{"UID SORT (SIZE) UTF-8 ALL", "* SORT 1 4 3 2 5"},
		// ESORT: MIN/MAX are the first and last in sort order.
		{"SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL", `* ESEARCH (TAG "a17") MIN 4 MAX 5 COUNT 5`},
		{"SORT RETURN (ALL) (REVERSE ARRIVAL) UTF-8 ALL", `* ESEARCH (TAG "a18") ALL 1,5,4,3,2`},
		{"UID SORT RETURN (ALL COUNT) (ARRIVAL) UTF-8 2:4", `* ESEARCH (TAG "a19") UID ALL 2:4 COUNT 3`},
		{"SORT RETURN () (ARRIVAL) UTF-8 1:5", `* ESEARCH (TAG "a20") ALL 2:5,1`},
		{"SORT RETURN (COUNT) (ARRIVAL) UTF-8 SUBJECT none", `* ESEARCH (TAG "a21") COUNT 0`},
	} {
		u, tagged := rc.Cmd(tc.cmd)
		wantLine(t, tc.cmd, u, tagged, tc.want)
	}
	for _, tc := range []struct{ cmd, want string }{
		{"SORT (DATE) ISO-8859-1 ALL", " NO [BADCHARSET (US-ASCII UTF-8)]"},
		{"SORT (DATE) KOI8-R SUBJECT {3+}\r\nabc", " NO [BADCHARSET (US-ASCII UTF-8)]"},
		{"THREAD REFERENCES ISO-8859-1 ALL", " NO [BADCHARSET (US-ASCII UTF-8)]"},
		{"SORT (NOSUCHKEY) UTF-8 ALL", " BAD"},
		{"SORT (REVERSE) UTF-8 ALL", " BAD"},
		{"SORT () UTF-8 ALL", " BAD"},
		{"SORT (DATE) UTF-8", " BAD"},
		{"THREAD NOSUCH UTF-8 ALL", " BAD"},
		{"SORT RETURN (BOGUS) (DATE) UTF-8 ALL", " BAD"},
	} {
		_, tagged := rc.Cmd(tc.cmd)
		if !strings.HasPrefix(tagged, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.cmd, tagged, tc.want)
		}
	}
	// The connection is still in step after the refusals.
	u, tagged := rc.Cmd("SORT (ARRIVAL) UTF-8 ALL")
	wantLine(t, "SORT after refusals", u, tagged, "* SORT 2 3 4 5 1")
}

// THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 §4), with a
// parent that is not in the folder, a cycle in References, a reply
// without References gathered by subject (step 5), a duplicate
// Message-ID and UID THREAD.
func TestThread(t *testing.T) {
	e := newEnv(t)
	alice := e.mailbox("alice@example.com")
	day := func(d int) string { return fmt.Sprintf("Mon, %02d Jan 2024 10:00:00 +0000", d) }
	from := "x@x.example"
	for i, m := range []struct{ id, subject, refs, irt string }{
		{"<1@x>", "Topic", "", ""},                  // 1
		{"<2@x>", "Re: Topic", "<1@x>", ""},         // 2: reply to 1
		{"<3@x>", "Other", "<gone@x>", ""},          // 3: parent missing
		{"<4@x>", "Re: Other", "<gone@x>", ""},      // 4: sibling of 3
		{"<5@x>", "Loop", "<6@x>", ""},              // 5: cycle with 6
		{"<6@x>", "Re: Loop", "<5@x>", ""},          // 6
		{"<7@x>", "Re: Topic", "", ""},              // 7: reply by subject only
		{"<8@x>", "Topic", "", ""},                  // 8: same subject, not a reply
		{"<2@x>", "Dup id", "", "<3@x> <1@x>"},      // 9: duplicate Message-ID, child of 3 by In-Reply-To
		{"", "Re: Dup id", "<2@x> <nothere@x>", ""}, // 10: parent missing, grandparent 2
	} {
		e.deliver(alice, "INBOX", sortMsg(m.id, m.subject, from, from, day(i+1), m.refs, m.irt, "b"))
	}
	rc := rawLogin(t, e.addr, "alice@example.com")
	rc.Cmd("SELECT INBOX")
	for _, tc := range []struct{ cmd, want string }{
		// Base subjects: topic (1 2 7 8), other (3 4), loop (5 6),
		// dup id (9 10); each group under its earliest message.
		{"THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (1 (2)(7)(8))(3 4)(5 6)(9 10)"},
		{"THREAD ORDEREDSUBJECT UTF-8 1:3", "* THREAD (1 2)(3)"},
		// 5 and 6 reference each other: 5 (first) becomes 6's child
		// and 6 gets no parent. 9 shares 2's id, so it is a message of
		// its own, child of 3 (In-Reply-To's first id); 10 hangs below
		// 2 through the placeholder <nothere@x> that step 4 removes.
		{"THREAD REFERENCES UTF-8 ALL", "* THREAD ((1 (2 10)(7))(8))((3 9)(4))(6 5)"},
		{"UID THREAD REFERENCES UTF-8 ALL", "* THREAD ((1 (2 10)(7))(8))((3 9)(4))(6 5)"},
		// Threading only the matches: 2's parent 1 is not among them.
		{"THREAD REFERENCES UTF-8 2:4", "* THREAD (2)((3)(4))"},
		{"THREAD REFERENCES UTF-8 SUBJECT nothing-matches", "* THREAD"},
	} {
		u, tagged := rc.Cmd(tc.cmd)
		wantLine(t, tc.cmd, u, tagged, tc.want)
	}
}

// fillWith delivers n messages made by gen (1-based), eight at a time.
func (e *env) fillWith(mbid uint64, n int, gen func(i int) string) {
	e.t.Helper()
	var wg sync.WaitGroup
	var next atomic.Int64
	var failed atomic.Value
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > n || failed.Load() != nil {
					return
				}
				bw, err := e.st.NewBlob(e.t.Context(), 0)
				if err == nil {
					io.WriteString(bw, gen(i))
					err = bw.Sync()
				}
				if err == nil {
					_, err = e.st.Deliver(e.t.Context(), store.Delivery{Blob: bw, Targets: []store.Target{{MailboxID: mbid}}})
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		e.t.Fatal(err)
	}
}

// SORT and THREAD on a 10k folder answer within a bound with room for a
// loaded machine (each takes well under a second alone), and the answer
// lists every message once.
func TestSortThread10k(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("fills 10k messages; the timing bound means nothing under -race")
	}
	const n = 10000
	e := newEnv(t)
	alice := e.mailbox("alice@example.com")
	e.fillWith(alice, n, func(i int) string {
		refs := ""
		if i%4 != 1 {
			refs = fmt.Sprintf("<t%d@x>", i-(i-1)%4)
		}
		return sortMsg(fmt.Sprintf("<t%d@x>", i), fmt.Sprintf("Re: thread %d", (i-1)/4), fmt.Sprintf("u%d@x.example", i%97), "a@x.example",
			time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i*7919%n)*time.Minute).Format(time.RFC1123Z), refs, "", "b")
	})
	rc := rawLogin(t, e.addr, "alice@example.com")
	rc.C.SetDeadline(time.Now().Add(2 * time.Minute))
	rc.Cmd("SELECT INBOX")
	for _, cmd := range []string{"SORT (ARRIVAL) UTF-8 ALL", "SORT (DATE) UTF-8 ALL", "SORT (SUBJECT) UTF-8 ALL", "SORT (FROM) UTF-8 ALL", "THREAD REFERENCES UTF-8 ALL", "THREAD ORDEREDSUBJECT UTF-8 ALL"} {
		start := time.Now()
		u, tagged := rc.Cmd(cmd)
		took := time.Since(start)
		if !strings.HasPrefix(tagged, " OK") || len(u) != 1 {
			t.Fatalf("%s: %s (%d lines)", cmd, tagged, len(u))
		}
		t.Logf("%s: %v", cmd, took)
		if took > 10*time.Second {
			t.Errorf("%s took %v on %d messages", cmd, took, n)
		}
		seen := map[string]bool{}
		for _, f := range strings.FieldsFunc(strings.TrimPrefix(strings.TrimPrefix(u[0], "* SORT"), "* THREAD"), func(r rune) bool { return r == ' ' || r == '(' || r == ')' }) {
			if seen[f] {
				t.Fatalf("%s lists %s twice", cmd, f)
			}
			seen[f] = true
		}
		if len(seen) != n {
			t.Errorf("%s lists %d messages, want %d", cmd, len(seen), n)
		}
		if strings.HasPrefix(cmd, "THREAD REFERENCES") && strings.Count(u[0], "((") != 0 {
			t.Errorf("REFERENCES made placeholders where every parent exists")
		}
	}
}
