package store

import (
	"errors"
	"io"
	"testing"

	"mailsrv/auth/acl"
)

// DeliverAll stores all of its deliveries in one transaction or none:
// when the last one fails inside the transaction, the earlier ones are
// not in the folder and its counters are unchanged.
func TestDeliverAllAllOrNothing(t *testing.T) {
	s := newTestStore(t)
	a, err := s.AddUser(t.Context(), "alice@example.com", "Alice", "x")
	if err != nil {
		t.Fatal(err)
	}
	blob := func() *BlobWriter {
		w, err := s.NewBlob(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, testMsg)
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		return w
	}
	tg := []Target{{MailboxID: a.MailboxID}}
	// The third needs a right nobody@ does not have on alice's mailbox.
	_, err = s.DeliverAll(t.Context(), []Delivery{
		{Blob: blob(), Targets: tg},
		{Blob: blob(), Targets: tg},
		{Blob: blob(), Targets: tg, Requires: []Requirement{{MailboxID: a.MailboxID, User: "nobody@example.com", Op: acl.OpSendAs}}},
	})
	if !errors.Is(err, ErrMissingRight) {
		t.Fatalf("DeliverAll with a failing third: %v", err)
	}
	f, err := s.GetFolder(t.Context(), a.MailboxID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if f.Messages != 0 || f.UIDNext != 1 {
		t.Fatalf("after the failed DeliverAll: %d messages, UIDNEXT %d", f.Messages, f.UIDNext)
	}
	outs, err := s.DeliverAll(t.Context(), []Delivery{{Blob: blob(), Targets: tg}, {Blob: blob(), Targets: tg}})
	if err != nil || len(outs) != 2 || outs[0][0].UID != 1 || outs[1][0].UID != 2 {
		t.Fatalf("DeliverAll: %+v %v", outs, err)
	}
}
