package queue

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mailsrv/internal/pgtest"
	"mailsrv/store"
	"mailsrv/store/kv"
	"mailsrv/store/kv/pgkv"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// testEngines opens each engine the lease tests run on. The servers of a
// test share one kv.DB, as several `mailsrv serve` share one PostgreSQL
// database; bbolt allows one process, so its two servers share it
// in-process; on PostgreSQL each server has its own connection pool, as
// two processes would (skipped, saying why, where PostgreSQL is missing).
func testEngines(t *testing.T) map[string]func(t *testing.T) (kv.DB, kv.DB) {
	return map[string]func(t *testing.T) (kv.DB, kv.DB){
		"bbolt": func(t *testing.T) (kv.DB, kv.DB) {
			db, err := kv.OpenBolt(filepath.Join(t.TempDir(), store.DBFile), kv.BoltOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db, db
		},
		"postgres": func(t *testing.T) (kv.DB, kv.DB) {
			url := pgtest.URL(t)
			var dbs [2]kv.DB
			for i := range dbs {
				db, err := pgkv.Open(context.Background(), url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				dbs[i] = db
			}
			return dbs[0], dbs[1]
		},
	}
}

// twoServers opens two stores on one engine (PostgreSQL: a second
// connection pool on the same database, as a second server would), with
// distinct server ids and one body directory (as two servers share one
// bucket), and points e at the first.
func twoServers(t *testing.T, e *env, dbA, dbB kv.DB) (a, b *store.Store) {
	t.Helper()
	dir := t.TempDir()
	open := func(db kv.DB, id string) *store.Store {
		st, err := store.OpenEngine(db, dir, store.Options{Logger: quietLog(), ServerID: id, Now: e.now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a, b = open(dbA, "server-a"), open(dbB, "server-b")
	if err := a.AddDomain(t.Context(), store.Domain{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	e.st, e.dir = a, dir
	return a, b
}

func (e *env) runnerOn(st *store.Store) *Runner {
	return New(Options{Store: st, Hostname: "mail.example.com", Config: e.cfg,
		Resolver: e.dns.Addr(), Log: quietLog(), Now: e.now})
}

// A queued message is delivered once while two servers on one engine run
// queue workers at the same time: each message is claimed by one of them.
func TestTwoServersDeliverOnce(t *testing.T) {
	for name, open := range testEngines(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			// A slow MX keeps deliveries in flight while the other
			// server looks at the queue.
			e.mx.delay = 20 * time.Millisecond
			dbA, dbB := open(t)
			a, b := twoServers(t, e, dbA, dbB)
			ra, rb := e.runnerOn(a), e.runnerOn(b)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for _, r := range []*Runner{ra, rb} {
				wg.Add(1)
				go func() { defer wg.Done(); r.Run(ctx) }()
			}
			defer func() { cancel(); wg.Wait() }()
			const n = 20
			for i := range n {
				st := a
				if i%2 == 1 {
					st = b // both servers accept mail too
				}
				enqueueOn(t, st, fmt.Sprintf("r%02d@remote.test", i))
				ra.Wake()
				rb.Wake()
			}
			waitFor(t, func() bool { return len(e.mx.received()) >= n && e.queueLen(t) == 0 })
			time.Sleep(100 * time.Millisecond) // a duplicate would arrive now
			seen := map[string]int{}
			for _, m := range e.mx.received() {
				for _, rc := range m.to {
					seen[rc]++
				}
			}
			for i := range n {
				rc := fmt.Sprintf("r%02d@remote.test", i)
				if seen[rc] != 1 {
					t.Errorf("%s delivered %d times, want once", rc, seen[rc])
				}
			}
			if len(seen) != n {
				t.Errorf("%d recipients delivered, want %d", len(seen), n)
			}
		})
	}
}

// An item claimed by a server that then died is left alone until its
// lease expires, then taken over and delivered once.
func TestExpiredLeaseTakenOver(t *testing.T) {
	for name, open := range testEngines(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			now := time.Now()
			var mu sync.Mutex
			e.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			dbA, dbB := open(t)
			a, dead := twoServers(t, e, dbA, dbB)
			enqueueOn(t, a, "bob@remote.test")
			q, err := a.Queue(t.Context())
			if err != nil || len(q) != 1 {
				t.Fatalf("queue %v %v", q, err)
			}
			got, err := dead.QueueClaim(t.Context(), []uint64{q[0].ID}, now, DefaultLease)
			if err != nil || len(got) != 1 || got[0].LeaseOwner != "server-b" {
				t.Fatalf("dead server's claim: %+v %v", got, err)
			}
			if again, err := a.QueueClaim(t.Context(), []uint64{q[0].ID}, now, DefaultLease); err != nil || len(again) != 0 {
				t.Fatalf("second claim of a leased item: %+v %v", again, err)
			}
			ra := e.runnerOn(a)
			if next := ra.RunOnce(context.Background()); len(e.mx.received()) != 0 {
				t.Fatal("an item leased by another server was delivered")
			} else if next.IsZero() {
				t.Error("RunOnce reports an empty queue")
			}
			mu.Lock()
			now = now.Add(DefaultLease + time.Second)
			mu.Unlock()
			ra.RunOnce(context.Background())
			if r := e.mx.received(); len(r) != 1 || r[0].to[0] != "bob@remote.test" {
				t.Fatalf("after the lease expired the MX got %+v", r)
			}
			if n := e.queueLen(t); n != 0 {
				t.Errorf("queue has %d items after the takeover", n)
			}
		})
	}
}

// enqueueOn queues a message from alice to rcpt through st.
func enqueueOn(t *testing.T, st *store.Store, rcpt string) {
	t.Helper()
	w, err := st.NewBlob(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "From: <alice@example.com>\r\nTo: <"+rcpt+">\r\nSubject: hello\r\n\r\nbody\r\n")
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Deliver(t.Context(), store.Delivery{Blob: w, Queue: &store.QueueItem{From: "alice@example.com", To: []string{rcpt}}}); err != nil {
		t.Fatal(err)
	}
}
