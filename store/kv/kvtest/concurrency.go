package kvtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"mailsrv/store/kv"
)

// testSnapshot: a reader keeps its snapshot while a writer commits.
func testSnapshot(t *testing.T, _ Engine, db kv.DB) {
	fill(t, db, "snap", 10)
	// bbolt's writer must remap its file to grow it, and waits for open
	// readers to do so (a deadlock here): grow the file first, so the
	// freed pages serve the writer below.
	update(t, db, func(tx kv.Tx) error {
		return tx.Bucket([]byte("snap")).Put([]byte("grow"), make([]byte, 4<<20))
	})
	update(t, db, func(tx kv.Tx) error { return tx.Bucket([]byte("snap")).Delete([]byte("grow")) })
	read := make(chan struct{})
	committed := make(chan error, 1)
	err := db.View(bg, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("snap"))
		if string(b.Get(key(0))) != "0" {
			t.Fatal("setup value missing")
		}
		close(read)
		go func() {
			committed <- db.Update(bg, func(tx kv.Tx) error {
				b := tx.Bucket([]byte("snap"))
				if err := b.Put(key(0), []byte("new")); err != nil {
					return err
				}
				if err := b.Put([]byte("added"), []byte("x")); err != nil {
					return err
				}
				return b.Delete(key(2))
			})
		}()
		select {
		case err := <-committed:
			if err != nil {
				return fmt.Errorf("writer while a reader is open: %w", err)
			}
		case <-time.After(60 * time.Second):
			return errors.New("a writer did not commit within 60 s while a reader was open")
		}
		if got := string(b.Get(key(0))); got != "0" {
			t.Errorf("reader sees %q after a concurrent commit, want its snapshot's 0", got)
		}
		if b.Get([]byte("added")) != nil || b.Get(key(2)) == nil {
			t.Error("reader sees keys added or deleted after its snapshot")
		}
		if got := keys(b); len(got) != 10 {
			t.Errorf("reader's cursor sees %d keys, want its snapshot's 10", len(got))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	<-read
	view(t, db, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("snap"))
		if string(b.Get(key(0))) != "new" || b.Get([]byte("added")) == nil || b.Get(key(2)) != nil {
			t.Error("a new reader does not see the commit")
		}
		return nil
	})
}

// testSerialWriters: two handles (two servers) increment one counter in
// read-modify-write transactions; no increment may be lost.
func testSerialWriters(t *testing.T, e Engine, db kv.DB) {
	second := db
	if e.Second != nil {
		second = e.Second(t, db)
	}
	update(t, db, func(tx kv.Tx) error {
		_, err := tx.CreateBucket([]byte("ctr"))
		return err
	})
	const perWriter = 40
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w, h := range []kv.DB{db, second, db, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				err := h.Update(bg, func(tx kv.Tx) error {
					b := tx.Bucket([]byte("ctr"))
					var n uint64
					if v := b.Get([]byte("n")); v != nil {
						n = binary.BigEndian.Uint64(v)
					}
					time.Sleep(100 * time.Microsecond) // widen the race window
					seq, err := b.NextSequence()
					if err != nil {
						return err
					}
					if seq != n+1 {
						return fmt.Errorf("writer %d: sequence %d after counter %d", w, seq, n)
					}
					return b.Put([]byte("n"), binary.BigEndian.AppendUint64(nil, n+1))
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	view(t, second, func(tx kv.Tx) error {
		v := tx.Bucket([]byte("ctr")).Get([]byte("n"))
		if got := binary.BigEndian.Uint64(v); got != 4*perWriter {
			t.Errorf("counter = %d after %d increments: updates were lost", got, 4*perWriter)
		}
		return nil
	})
}

// testSlices: slices from Get and cursors stay intact until the
// transaction ends, whatever else it reads and writes.
func testSlices(t *testing.T, _ Engine, db kv.DB) {
	fill(t, db, "sl", 600)
	update(t, db, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("sl"))
		got := b.Get(key(0))
		k, v := b.Cursor().Seek(key(10))
		for i := 0; i < 600; i++ {
			if err := b.Put(key(i*2), []byte("overwritten")); err != nil {
				return err
			}
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
		}
		if err := b.Put([]byte("zz"), bytes.Repeat([]byte{1}, 100000)); err != nil {
			return err
		}
		if string(got) != "0" || string(k) != string(key(10)) || string(v) != "10" {
			t.Errorf("slices changed before the transaction ended: %q %q=%q", got, k, v)
		}
		return nil
	})
}

// testContext: a cancelled context stops a transaction.
func testContext(t *testing.T, _ Engine, db kv.DB) {
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := db.View(ctx, func(kv.Tx) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("View with a cancelled context: %v", err)
	}
	ran := false
	if err := db.Update(ctx, func(kv.Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("Update with a cancelled context: %v (fn ran: %v)", err, ran)
	}
}
