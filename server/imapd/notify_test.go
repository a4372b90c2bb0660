package imapd

import (
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Two sessions on one folder see each other's changes and mail delivered
// by the store, both at the next command and during IDLE.
func TestTwoSessionsSeeChangesIncludingIdle(t *testing.T) {
	e := newEnv(t)
	alice := e.mailbox("alice@example.com")
	for i := 1; i <= 3; i++ {
		e.deliver(alice, "INBOX", testMessage(i))
	}
	c1, u1 := e.dial("alice@example.com")
	c2, u2 := e.dial("alice@example.com")
	if _, err := c1.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}

	// New mail reaches session 2 at its next command.
	e.deliver(alice, "INBOX", testMessage(4))
	if err := c2.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	u2.waitFor(t, "EXISTS 4 after NOOP", func() bool { return len(u2.exists) > 0 && u2.exists[len(u2.exists)-1] == 4 })

	// Session 1 idles; changes by session 2 and by delivery arrive.
	idle, err := c1.Idle()
	if err != nil {
		t.Fatal(err)
	}
	u1.waitFor(t, "EXISTS 4 in IDLE", func() bool { return len(u1.exists) > 0 && u1.exists[len(u1.exists)-1] == 4 })
	if _, err := c2.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	u1.waitFor(t, "FETCH FLAGS in IDLE", func() bool { return containsFlag(u1.flags[2], imap.FlagFlagged) })
	if _, err := c2.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	u1.waitFor(t, "EXPUNGE 1 in IDLE", func() bool { return len(u1.expunges) == 1 && u1.expunges[0] == 1 })
	e.deliver(alice, "INBOX", testMessage(5))
	u1.waitFor(t, "EXISTS 4 after expunge+delivery", func() bool { return u1.exists[len(u1.exists)-1] == 4 && len(u1.exists) >= 2 })
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	// Both views agree on sequence numbers ↔ UIDs.
	for _, c := range []*imapclient.Client{c1, c2} {
		// A message the client was not told about yet has no sequence
		// number in its view: NOOP first.
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		msgs, err := c.Fetch(imap.SeqSetNum(1, 2, 3, 4), &imap.FetchOptions{UID: true}).Collect()
		if err != nil || len(msgs) != 4 {
			t.Fatalf("FETCH after changes: %d %v", len(msgs), err)
		}
		for i, want := range []imap.UID{2, 3, 4, 5} {
			if msgs[i].SeqNum != uint32(i+1) || msgs[i].UID != want {
				t.Fatalf("seq %d → uid %d, want %d", msgs[i].SeqNum, msgs[i].UID, want)
			}
		}
	}
}

// Sequence numbers follow the client's view while updates are pending: an
// expunge it was not told about keeps numbers stable, a message it was not
// told about has no number.
func TestSequenceNumbersFollowClientView(t *testing.T) {
	e := newEnv(t)
	alice := e.mailbox("alice@example.com")
	for i := 1; i <= 5; i++ {
		e.deliver(alice, "INBOX", testMessage(i))
	}
	c1, _ := e.dial("alice@example.com")
	c2, _ := e.dial("alice@example.com")
	for _, c := range []*imapclient.Client{c1, c2} {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c2.Store(imap.UIDSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	e.deliver(alice, "INBOX", testMessage(6))
	seqUIDs := func(set imap.NumSet) map[uint32]imap.UID {
		t.Helper()
		msgs, err := c1.Fetch(set, &imap.FetchOptions{UID: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		out := map[uint32]imap.UID{}
		for _, m := range msgs {
			out[m.SeqNum] = m.UID
		}
		return out
	}
	// FETCH may not announce the expunge, so c1 still numbers 1..5 as before.
	if got := seqUIDs(imap.SeqSetNum(5, 1, 3, 3)); len(got) != 3 || got[1] != 1 || got[3] != 3 || got[5] != 5 {
		t.Fatalf("before NOOP: %v", got)
	}
	if got := seqUIDs(imap.SeqSetNum(6)); len(got) != 0 {
		t.Fatalf("unannounced message has a number: %v", got)
	}
	if err := c1.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if got := seqUIDs(imap.SeqSetNum(2, 5)); got[2] != 3 || got[5] != 6 {
		t.Fatalf("after NOOP: %v", got)
	}
	msgs, err := c1.Fetch(imap.UIDSetNum(6, 3), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 2 || msgs[0].SeqNum != 2 || msgs[1].SeqNum != 5 {
		t.Fatalf("UID FETCH 6,3: %+v %v", msgs, err)
	}
}
