package imapd

import (
	"fmt"
	"testing"
	"time"
)

// A SORT repeated on the same messages is answered from the order the
// folder kept (sortcache.go), and that order is never stale: a message
// delivered or expunged since, another key list, REVERSE, a search
// criterion, UID SORT and a second session all get the order the keys
// give, checked against the expected lists; THREAD trees likewise.
func TestSortOrderKeptAndRenewed(t *testing.T) {
	e := newEnv(t)
	alice := e.mailbox("alice@example.com")
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	// Subjects c, a, d, b; arrival in delivery order.
	for i, subj := range []string{"c", "Re: a", "d", "b"} {
		e.deliverAt(alice, sortMsg(fmt.Sprintf("<o%d@x>", i), subj, fmt.Sprintf("u%d@x", 4-i), "t@x", "Mon, 01 Jan 2024 10:00:00 +0000", "", "", "x"), base.Add(time.Duration(i)*time.Hour))
	}
	rc := rawLogin(t, e.addr, "alice@example.com")
	rc.Cmd("SELECT INBOX")
	check := func(what, cmd, want string) {
		t.Helper()
		u, tagged := rc.Cmd(cmd)
		wantLine(t, what+": "+cmd, u, tagged, want)
	}
	check("first", "SORT (SUBJECT) UTF-8 ALL", "* SORT 2 4 1 3")
	check("repeated", "SORT (SUBJECT) UTF-8 ALL", "* SORT 2 4 1 3")
	check("reverse", "SORT (REVERSE SUBJECT) UTF-8 ALL", "* SORT 3 1 4 2")
	check("other key", "SORT (FROM) UTF-8 ALL", "* SORT 4 3 2 1")
	check("subset", "SORT (SUBJECT) UTF-8 2:4", "* SORT 2 4 3")
	check("uid", "UID SORT (SUBJECT) UTF-8 ALL", "* SORT 2 4 1 3")
	check("after the others", "SORT (SUBJECT) UTF-8 ALL", "* SORT 2 4 1 3")
	check("thread", "THREAD REFERENCES UTF-8 ALL", "* THREAD (1)(2)(3)(4)")
	check("thread repeated", "THREAD REFERENCES UTF-8 ALL", "* THREAD (1)(2)(3)(4)")
	check("thread subset", "THREAD REFERENCES UTF-8 3:4", "* THREAD (3)(4)")

	// A new message (subject "aa") sorts between "a" and "b".
	e.deliverAt(alice, sortMsg("<o5@x>", "aa", "u0@x", "t@x", "Mon, 01 Jan 2024 10:00:00 +0000", "", "", "x"), base.Add(5*time.Hour))
	rc.Cmd("NOOP")
	check("after delivery", "SORT (SUBJECT) UTF-8 ALL", "* SORT 2 5 4 1 3")
	check("after delivery", "SORT (FROM) UTF-8 ALL", "* SORT 5 4 3 2 1")
	check("thread after delivery", "THREAD REFERENCES UTF-8 ALL", "* THREAD (1)(2)(3)(4)(5)")
	// A reply to "c" (UID 1) joins its thread.
	e.deliverAt(alice, sortMsg("<o6@x>", "Re: c", "u9@x", "t@x", "Tue, 02 Jan 2024 10:00:00 +0000", "<o0@x>", "", "x"), base.Add(6*time.Hour))
	rc.Cmd("NOOP")
	check("thread after reply", "THREAD REFERENCES UTF-8 ALL", "* THREAD (1 6)(2)(3)(4)(5)")

	// Expunge "Re: a" (seq 2, UID 2): numbers shift down. "Re: c" (UID 6)
	// sorts as "c", after UID 1 (mailbox order).
	rc.Cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
	rc.Cmd("EXPUNGE")
	check("after expunge", "SORT (SUBJECT) UTF-8 ALL", "* SORT 4 3 1 5 2")
	check("after expunge", "UID SORT (SUBJECT) UTF-8 ALL", "* SORT 5 4 1 6 3")
	check("thread after expunge", "THREAD REFERENCES UTF-8 ALL", "* THREAD (1 5)(2)(3)(4)")
	check("thread after expunge", "UID THREAD REFERENCES UTF-8 ALL", "* THREAD (1 6)(3)(4)(5)")

	rc2 := rawLogin(t, e.addr, "alice@example.com")
	rc2.Cmd("SELECT INBOX")
	u, tagged := rc2.Cmd("SORT (SUBJECT) UTF-8 ALL")
	wantLine(t, "second session", u, tagged, "* SORT 4 3 1 5 2")
}
