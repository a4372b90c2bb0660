package kv

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// Copy carries every key, nested bucket and sequence across several write
// transactions, and Digests then agree; a changed value shows in them.
func TestCopyAndDigests(t *testing.T) {
	ctx := context.Background()
	open := func() DB {
		db, err := OpenBolt(filepath.Join(t.TempDir(), "kv.db"), BoltOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	src, dst := open(), open()
	err := src.Update(ctx, func(tx Tx) error {
		a, _ := tx.CreateBucket([]byte("a"))
		a.SetSequence(77)
		for i := range 50 {
			a.Put([]byte(fmt.Sprintf("k%03d", i)), []byte(fmt.Sprint(i)))
			sub, _ := a.CreateBucket([]byte(fmt.Sprintf("sub%03d", i)))
			sub.SetSequence(uint64(i))
			sub.Put([]byte{0, byte(i)}, []byte("x"))
			deep, _ := sub.CreateBucket([]byte("d"))
			deep.Put([]byte("y"), []byte("z"))
		}
		tx.CreateBucket([]byte("empty"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"a", "empty", "missing"}
	var calls int
	n, err := Copy(ctx, dst, src, names, 7, func(int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 + 50*5; n != want || calls < n/20 {
		t.Fatalf("copied %d entries in %d transactions, want %d in batches of 7", n, calls, want)
	}
	ds, err := Digests(ctx, src, names)
	if err != nil {
		t.Fatal(err)
	}
	dd, err := Digests(ctx, dst, names)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds["a"] != dd["a"] || ds["empty"] != dd["empty"] || ds["a"].Entries != 50*5 {
		t.Fatalf("digests differ: %+v vs %+v", ds, dd)
	}
	dst.Update(ctx, func(tx Tx) error {
		return tx.Bucket([]byte("a")).Bucket([]byte("sub007")).SetSequence(8)
	})
	if dd, _ = Digests(ctx, dst, names); dd["a"] == ds["a"] {
		t.Error("a changed sequence does not change the digest")
	}
}
