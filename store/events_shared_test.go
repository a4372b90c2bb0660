package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"mailsrv/internal/pgtest"
	"mailsrv/store"
	"mailsrv/store/kv/pgkv"
)

// twoServersOnPostgres opens two stores on two handles of one PostgreSQL
// database, as two `mailsrv serve` would, sharing one body directory.
func twoServersOnPostgres(t *testing.T) (a, b *store.Store) {
	t.Helper()
	url := pgtest.URL(t)
	dir := t.TempDir()
	open := func(id string) *store.Store {
		db, err := pgkv.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.OpenEngine(db, dir, store.Options{ServerID: id, CloseEngine: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	return open("server-a"), open("server-b")
}

// TestEventsAcrossServers: a delivery and a flag change made through
// server A reach server B's subscribers within a second, and both servers
// publish every event in the same (commit) order; A's own flag event keeps
// its Origin on A only.
func TestEventsAcrossServers(t *testing.T) {
	a, b := twoServersOnPostgres(t)
	type seen struct {
		mu  sync.Mutex
		evs []store.Event
	}
	var onA, onB seen
	subscribe := func(st *store.Store, s *seen) {
		st.Subscribe(func(ev store.Event) {
			s.mu.Lock()
			s.evs = append(s.evs, ev)
			s.mu.Unlock()
		})
	}
	subscribe(a, &onA)
	subscribe(b, &onB)
	// Both listen before anything is written, so both must publish the
	// same events in the same order, the setup's included.
	if err := a.AddDomain(t.Context(), store.Domain{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	acct, err := a.AddUser(t.Context(), "alice@example.com", "Alice", "")
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(s *seen, what string, ok func(store.Event) bool) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < 10*time.Second {
			s.mu.Lock()
			for _, ev := range s.evs {
				if ok(ev) {
					s.mu.Unlock()
					return time.Since(start)
				}
			}
			s.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("%s never arrived", what)
		return 0
	}
	start := time.Now()
	d, err := a.DeliverBytes(t.Context(), store.Delivery{Targets: []store.Target{{MailboxID: acct.MailboxID}}},
		[]byte("Subject: hi\r\n\r\nhello\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	isNew := func(ev store.Event) bool { return ev.Kind == store.EventNew && ev.FolderID == d[0].FolderID }
	waitFor(&onB, "the delivery's event on B", isNew)
	t.Logf("B got A's delivery %v after it was committed", time.Since(start))
	if since := time.Since(start); since > time.Second {
		t.Errorf("B got A's delivery after %v, want under a second", since)
	}
	origin := a.NewOrigin()
	if _, err := a.StoreFlagsFrom(t.Context(), origin, d[0].FolderID, []uint32{d[0].UID}, store.FlagsAdd, []string{`\Flagged`}, ""); err != nil {
		t.Fatal(err)
	}
	isFlags := func(ev store.Event) bool { return ev.Kind == store.EventFlags }
	waitFor(&onB, "the flag event on B", isFlags)
	waitFor(&onA, "the flag event on A", isFlags)
	// B changes a flag too: A hears it.
	if _, err := b.StoreFlags(t.Context(), d[0].FolderID, []uint32{d[0].UID}, store.FlagsAdd, []string{`\Seen`}, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(&onA, "B's flag event on A", func(ev store.Event) bool {
		return ev.Kind == store.EventFlags && len(ev.Flags) == 1 && len(ev.Flags[0]) == 2
	})
	time.Sleep(200 * time.Millisecond)
	onA.mu.Lock()
	onB.mu.Lock()
	defer onA.mu.Unlock()
	defer onB.mu.Unlock()
	if len(onA.evs) != len(onB.evs) {
		t.Fatalf("A published %d events, B %d", len(onA.evs), len(onB.evs))
	}
	for i := range onA.evs {
		ea, eb := onA.evs[i], onB.evs[i]
		if ea.Kind != eb.Kind || ea.ModSeq != eb.ModSeq || ea.FolderID != eb.FolderID {
			t.Errorf("event %d differs: A %+v, B %+v", i, ea, eb)
		}
		if ea.Kind == store.EventFlags && ea.Origin == 0 && eb.Origin == 0 && i == len(onA.evs)-2 {
			t.Errorf("A's own flag event lost its Origin")
		}
		if eb.Origin != 0 {
			t.Errorf("B sees an Origin on event %d (%v): only the writer's own events carry one", i, eb.Origin)
		}
	}
	var gotOrigin bool
	for _, ev := range onA.evs {
		if ev.Origin == origin {
			gotOrigin = true
		}
	}
	if !gotOrigin {
		t.Error("A's own flag event lost its Origin")
	}
}
