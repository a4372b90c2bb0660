package imapd

import (
	"fmt"
	"testing"

	"mailsrv/store"
)

// downgradeEnvelopes rewrites the records of folder fid as a store from
// before References was cached wrote them (no "refs", no "v").
func (e *env) downgradeEnvelopes(fid uint64) {
	e.t.Helper()
	n, err := e.st.DowngradeEnvelopesForTest(e.t.Context(), fid)
	if err != nil || n == 0 {
		e.t.Fatalf("downgrade: %v (%d records)", err, n)
	}
}

// Records cached before References existed (envelope version 0) are
// threaded by the References read from their header, which is then
// stored, so the next THREAD needs no body read.
func TestThreadReferencesOldRecords(t *testing.T) {
	e := newEnv(t)
	alice := e.mailbox("alice@example.com")
	day := func(d int) string { return fmt.Sprintf("Mon, %02d Jan 2024 10:00:00 +0000", d) }
	// Subjects differ, so only References can join 3 to 1.
	e.deliver(alice, "INBOX", sortMsg("<1@x>", "one", "a@x", "b@x", day(1), "", "", "b"))
	e.deliver(alice, "INBOX", sortMsg("<2@x>", "two", "a@x", "b@x", day(2), "", "", "b"))
	e.deliver(alice, "INBOX", sortMsg("<3@x>", "three", "a@x", "b@x", day(3), "<0@x> <1@x>", "<2@x>", "b"))
	f, err := e.st.GetFolder(t.Context(), alice, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	e.downgradeEnvelopes(f.ID)
	if err := e.st.DropHeadsForTest(t.Context(), f.ID); err != nil { // older still than the head index
		t.Fatal(err)
	}
	msgs, err := e.st.Messages(t.Context(), f.ID, []uint32{3})
	if err != nil || len(msgs) != 1 || msgs[0].Envelope.Version != 0 || len(msgs[0].Envelope.References) != 0 {
		t.Fatalf("downgraded record: %+v %v", msgs, err)
	}
	rc := rawLogin(t, e.addr, "alice@example.com")
	rc.Cmd("SELECT INBOX")
	u, tagged := rc.Cmd("THREAD REFERENCES UTF-8 ALL")
	// Without References, In-Reply-To would make 3 a child of 2.
	wantLine(t, "THREAD on old records", u, tagged, "* THREAD (1 3)(2)")
	msgs, err = e.st.Messages(t.Context(), f.ID, []uint32{1, 3})
	if err != nil || len(msgs) != 2 {
		t.Fatal(msgs, err)
	}
	if v := msgs[0].Envelope.Version; v != store.EnvelopeVersion {
		t.Errorf("record 1 version %d after THREAD", v)
	}
	if r := msgs[1].Envelope.References; len(r) != 2 || r[1] != "<1@x>" || msgs[1].Envelope.Version != store.EnvelopeVersion {
		t.Errorf("record 3 after THREAD: %+v", msgs[1].Envelope)
	}
	// A new session (fresh folder cache) threads from the stored field.
	rc.Cmd("CLOSE")
	rc2 := rawLogin(t, e.addr, "alice@example.com")
	rc2.Cmd("SELECT INBOX")
	u, tagged = rc2.Cmd("THREAD REFERENCES UTF-8 ALL")
	wantLine(t, "THREAD after fill", u, tagged, "* THREAD (1 3)(2)")
}
