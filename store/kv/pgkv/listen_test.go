package pgkv_test

import (
	"context"
	"testing"
	"time"

	"mailsrv/internal/pgtest"
	"mailsrv/store/kv"
)

// TestListen: a commit through one handle wakes the listener of another
// within a second, and a killed listening connection reconnects (and
// says so, so its owner catches up).
func TestListen(t *testing.T) {
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changed := make(chan struct{}, 100)
	go b.Listen(ctx, func() { changed <- struct{}{} }, func(msg string, err error) { t.Logf("%s: %v", msg, err) })
	wait := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Fatalf("no change signal %s", what)
		}
	}
	wait("on connect")
	start := time.Now()
	if err := a.Update(ctx, func(tx kv.Tx) error {
		_, err := tx.CreateBucket([]byte("x"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	wait("after a commit on the other handle")
	t.Logf("notified %v after the commit", time.Since(start))
	// A read-only or empty transaction notifies nobody.
	a.View(ctx, func(kv.Tx) error { return nil })
	a.Update(ctx, func(kv.Tx) error { return nil })
	select {
	case <-changed:
		t.Error("a transaction that wrote nothing notified")
	case <-time.After(300 * time.Millisecond):
	}
	// Kill the listening backend: Listen reconnects and signals.
	if err := a.Update(ctx, func(tx kv.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	terminate(t, url)
	wait("after reconnecting")
	if err := a.Update(ctx, func(tx kv.Tx) error {
		return tx.Bucket([]byte("x")).Put([]byte("k"), []byte("v"))
	}); err != nil {
		t.Fatal(err)
	}
	wait("after a commit following the reconnect")
}
