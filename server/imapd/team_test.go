package imapd

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// SPEC §6 team keywords over the wire, as Thunderbird sends them: carol
// (manage) assigns and completes, a second assignee and a non-member are
// NO with a reason, bob (read only) may not assign, and another session
// sees the assignment as an unsolicited FETCH.
func TestTeamKeywordsRawWire(t *testing.T) {
	e := newEnv(t)
	e.deliver(e.info.ID, "INBOX", testMessage(1))
	e.deliver(e.info.ID, "INBOX", testMessage(2))
	const inbox = `"Shared/info@example.com/INBOX"`

	carol := rawLogin(t, e.addr, "carol@example.com")
	if _, tagged := carol.Cmd("SELECT " + inbox); !strings.Contains(tagged, "OK [READ-WRITE]") {
		t.Fatalf("SELECT: %s", tagged)
	}
	alice := rawLogin(t, e.addr, "alice@example.com")
	if _, tagged := alice.Cmd("SELECT " + inbox); !strings.Contains(tagged, " OK ") {
		t.Fatalf("alice SELECT: %s", tagged)
	}

	untagged, tagged := carol.Cmd("UID STORE 1 +FLAGS ($Assigned:bob@example.com)")
	if !strings.Contains(tagged, " OK ") || !slices.ContainsFunc(untagged, func(l string) bool {
		return strings.Contains(l, "FETCH") && strings.Contains(l, "$Assigned:bob@example.com")
	}) {
		t.Fatalf("assign bob: %q %s", untagged, tagged)
	}
	// A second assignee: NO, and the reason names the way out.
	if _, tagged := carol.Cmd("UID STORE 1 +FLAGS ($Assigned:carol@example.com)"); !strings.HasPrefix(tagged, " NO") || !strings.Contains(tagged, "at most one assignee") {
		t.Errorf("second assignee: %s", tagged)
	}
	// dave can read nothing of info@; an unknown user neither.
	for _, who := range []string{"dave@example.com", "nobody@example.com"} {
		if _, tagged := carol.Cmd("UID STORE 2 +FLAGS ($Assigned:" + who + ")"); !strings.HasPrefix(tagged, " NO") || !strings.Contains(tagged, "not a member") {
			t.Errorf("assign %s: %s", who, tagged)
		}
	}
	// Replace: -FLAGS then +FLAGS; then $Done.
	for _, line := range []string{"UID STORE 1 -FLAGS.SILENT ($Assigned:bob@example.com)", "UID STORE 1 +FLAGS.SILENT ($Assigned:carol@example.com $Done)"} {
		if _, tagged := carol.Cmd(line); !strings.Contains(tagged, " OK ") {
			t.Fatalf("%s: %s", line, tagged)
		}
	}
	untagged, _ = carol.Cmd("UID FETCH 1:2 (FLAGS)")
	if len(untagged) != 2 || !strings.Contains(untagged[0], "$Assigned:carol@example.com") || strings.Contains(untagged[0], "bob@") || strings.Contains(untagged[1], "$Assigned") {
		t.Errorf("flags after replace: %q", untagged)
	}
	// alice's session hears of it.
	untagged, _ = alice.Cmd("NOOP")
	if !slices.ContainsFunc(untagged, func(l string) bool {
		return strings.Contains(l, "FETCH") && strings.Contains(l, "$Assigned:carol@example.com")
	}) {
		t.Errorf("alice's NOOP after the assignment: %q", untagged)
	}
	// bob has read only: no assigning.
	bob := rawLogin(t, e.addr, "bob@example.com")
	bob.Cmd("SELECT " + inbox)
	if _, tagged := bob.Cmd("UID STORE 2 +FLAGS ($Assigned:bob@example.com)"); !strings.HasPrefix(tagged, " NO") {
		t.Errorf("read-only member assigns: %s", tagged)
	}
	// APPEND of an assignment to a non-member: NO.
	msg := testMessage(3)
	if _, tagged := carol.appendLiteral(fmt.Sprintf("APPEND %s ($Assigned:dave@example.com) {%d}", inbox, len(msg)), msg); !strings.HasPrefix(tagged, " NO") {
		t.Errorf("APPEND with a non-member assignee: %s", tagged)
	}

	audit, err := e.st.AuditLog(t.Context(), e.info.ID, e.st.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, a := range audit {
		switch a.Action {
		case "assign", "unassign", "done":
			acts = append(acts, a.Actor+" "+a.Action+" "+a.Detail+" "+a.MessageID)
		}
	}
	want := []string{
		"carol@example.com assign bob@example.com <m1@remote.example>",
		"carol@example.com unassign bob@example.com <m1@remote.example>",
		"carol@example.com assign carol@example.com <m1@remote.example>",
		"carol@example.com done  <m1@remote.example>",
	}
	if !slices.Equal(acts, want) {
		t.Errorf("audit:\n%s\nwant\n%s", strings.Join(acts, "\n"), strings.Join(want, "\n"))
	}
}

// A reply APPENDed to the shared Sent by any client marks the original
// \Answered, and an open session sees the FETCH.
func TestReplyAppendedToSharedSentAnswers(t *testing.T) {
	e := newEnv(t)
	e.deliver(e.info.ID, "INBOX", testMessage(1))
	carol := rawLogin(t, e.addr, "carol@example.com")
	carol.Cmd(`SELECT "Shared/info@example.com/INBOX"`)
	alice := rawLogin(t, e.addr, "alice@example.com")
	reply := "From: info@example.com\r\nTo: sender1@remote.example\r\nSubject: Re: message 1\r\nMessage-ID: <reply1@example.com>\r\nIn-Reply-To: <m1@remote.example>\r\n\r\nhello\r\n"
	if _, tagged := alice.appendLiteral(fmt.Sprintf(`APPEND "Shared/info@example.com/Sent" (\Seen) {%d}`, len(reply)), reply); !strings.Contains(tagged, " OK ") {
		t.Fatalf("APPEND reply: %s", tagged)
	}
	untagged, _ := carol.Cmd("NOOP")
	if !slices.ContainsFunc(untagged, func(l string) bool { return strings.Contains(l, "FETCH") && strings.Contains(l, `\Answered`) }) {
		t.Errorf("carol's NOOP after the reply: %q", untagged)
	}
}

// appendLiteral sends a command ending in a synchronising literal, waits
// for the continuation, then sends the literal.
func (rc *rawConn) appendLiteral(line, literal string) (untagged []string, tagged string) {
	rc.T.Helper()
	tag := rc.NextTag()
	fmt.Fprintf(rc.C, "%s %s\r\n", tag, line)
	l, err := rc.R.ReadString('\n')
	if err != nil || !strings.HasPrefix(l, "+") {
		rc.T.Fatalf("%s: no continuation: %q %v", line, l, err)
	}
	fmt.Fprintf(rc.C, "%s\r\n", literal)
	for {
		l, err := rc.R.ReadString('\n')
		if err != nil {
			rc.T.Fatalf("reading reply to %q: %v", line, err)
		}
		l = strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(l, tag+" ") {
			return untagged, " " + strings.TrimPrefix(l, tag+" ")
		}
		untagged = append(untagged, l)
	}
}
