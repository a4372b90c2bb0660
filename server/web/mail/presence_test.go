package mail

import (
	"testing"
	"time"
)

// A presence whose heartbeats stop expires by itself, and the streams
// are told (onChange) by the sweep.
func TestPresenceExpires(t *testing.T) {
	changed := make(chan struct{}, 10)
	p := newMemPresence(time.Now, func() { changed <- struct{}{} })
	defer p.Close()
	k := ReplyKey{MailboxID: 7, FolderID: 3, UID: 42}
	p.Set(k, "bob@example.com", "Bob", time.Now().Add(300*time.Millisecond))
	<-changed
	v := p.Version()
	// A renewal is not a change.
	p.Set(k, "bob@example.com", "Bob", time.Now().Add(300*time.Millisecond))
	if p.Version() != v {
		t.Error("a heartbeat changed the version")
	}
	if l := p.List(7, time.Now()); len(l) != 1 || l[0].Member != "bob@example.com" {
		t.Fatalf("list = %+v", l)
	}
	if l := p.List(8, time.Now()); len(l) != 0 {
		t.Errorf("another mailbox lists %+v", l)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("the expired presence was not swept")
	}
	if l := p.List(7, time.Now()); len(l) != 0 || p.Version() == v {
		t.Errorf("after expiry: %+v, version %d", l, p.Version())
	}
}
