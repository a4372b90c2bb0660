package autoreply

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"mailsrv/store"
)

// TestCloseWaitsForRepliesInFlight (issue 15: every goroutine tracked):
// the reply DeliveredBlob starts runs in a goroutine of its own; Close,
// which the server calls before it closes the store, returns only once
// that goroutine is done, and later calls start nothing.
func TestCloseWaitsForRepliesInFlight(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.AddDomain(t.Context(), store.Domain{Name: "example.com"})
	alice, err := st.AddUser(t.Context(), "alice@example.com", "", "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetAutoReply(t.Context(), alice.MailboxID, &store.AutoReply{Body: "away"}, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	w, err := st.NewBlob(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "From: c@remote.example\r\nTo: alice@example.com\r\nSubject: hi\r\nMessage-ID: <1@x>\r\n\r\nhi\r\n")
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Deliver(t.Context(), store.Delivery{Blob: w, Targets: []store.Target{{MailboxID: alice.MailboxID}}}); err != nil {
		t.Fatal(err)
	}

	woken, release := make(chan struct{}, 2), make(chan struct{})
	r := &Responder{Store: st, Hostname: "mail.example.com", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Wake: func() { woken <- struct{}{}; <-release }} // the reply is queued, then held here
	r.DeliveredBlob(t.Context(), "c@remote.example", w.ID(), nil, []uint64{alice.MailboxID}, nil)
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("the automatic reply was never queued")
	}
	closed := make(chan struct{})
	go func() { r.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a reply was still being sent")
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the reply finished")
	}
	// After Close nothing more starts (it would outlive the store).
	r.DeliveredBlob(t.Context(), "d@remote.example", w.ID(), nil, []uint64{alice.MailboxID}, nil)
	select {
	case <-woken:
		t.Fatal("a reply started after Close")
	case <-time.After(200 * time.Millisecond):
	}
}
