package imapd

import (
	"fmt"
	"strings"
	"testing"

	"mailsrv/store"
)

// TestEnvelopeReadsServedFromHeads: FETCH ENVELOPE, SEARCH SUBJECT/FROM
// and SORT read the folder's head index, not the messages' JSON records
// (issue 19: decoding those was most of their time): with the records'
// subjects changed behind the server's back, they still show the heads'.
// Without the index (older data) the records answer, and the heads are
// rebuilt from them.
func TestEnvelopeReadsServedFromHeads(t *testing.T) {
	e := newEnv(t)
	alice := e.mailbox("alice@example.com")
	for i, subj := range []string{"gamma", "alpha", "beta"} {
		e.deliver(alice, "INBOX", sortMsg(fmt.Sprintf("<%d@x>", i), subj, fmt.Sprintf("u%d@x", i), "b@x",
			fmt.Sprintf("Mon, %02d Jan 2024 10:00:00 +0000", i+1), "", "", "b"))
	}
	f, err := e.st.GetFolder(t.Context(), alice, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := e.st.EditRecordsForTest(t.Context(), f.ID, func(m *store.Message) { m.Envelope.Subject = "record " + m.Envelope.Subject }); err != nil || n != 3 {
		t.Fatalf("editing the records: %d, %v", n, err)
	}
	rc := rawLogin(t, e.addr, "alice@example.com")
	rc.Cmd("SELECT INBOX")
	u, tagged := rc.Cmd("FETCH 2 (ENVELOPE)")
	if len(u) != 1 || !strings.Contains(u[0], `"alpha"`) || strings.Contains(u[0], "record") || !strings.HasPrefix(tagged, " OK") {
		t.Fatalf("FETCH ENVELOPE: %q %s", u, tagged)
	}
	u, tagged = rc.Cmd("UID SEARCH SUBJECT alpha FROM u1")
	wantLine(t, "SEARCH SUBJECT FROM", u, tagged, "* SEARCH 2")
	u, tagged = rc.Cmd("UID SEARCH SUBJECT record")
	wantLine(t, "SEARCH SUBJECT record", u, tagged, "* SEARCH")
	u, tagged = rc.Cmd("SORT (SUBJECT) UTF-8 ALL")
	wantLine(t, "SORT SUBJECT", u, tagged, "* SORT 2 3 1")
	u, tagged = rc.Cmd("SORT (REVERSE DATE) UTF-8 FROM u")
	wantLine(t, "SORT DATE FROM", u, tagged, "* SORT 3 2 1")

	// Older data: no head index. The records answer and heads come back.
	if err := e.st.DropHeadsForTest(t.Context(), f.ID); err != nil {
		t.Fatal(err)
	}
	u, tagged = rc.Cmd("FETCH 2 (ENVELOPE)")
	if len(u) != 1 || !strings.Contains(u[0], `"record alpha"`) || !strings.HasPrefix(tagged, " OK") {
		t.Fatalf("FETCH ENVELOPE without heads: %q %s", u, tagged)
	}
	heads, err := e.st.MessageHeads(t.Context(), f.ID, []uint32{2})
	if err != nil || len(heads) != 1 || heads[0].Blob != "" || heads[0].Envelope.Subject != "record alpha" {
		t.Fatalf("head of 2 after the lazy fill: %+v %v", heads, err)
	}
}
