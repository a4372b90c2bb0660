package kv

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// The adapter keeps bbolt's model and answers in this package's terms:
// a missing bucket is an untyped nil, bbolt's sentinel errors are ours, a
// second open of a held file is ErrLocked, a read transaction can copy the
// file, and a failed Update leaves nothing behind.
func TestBoltAdapter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kv.db")
	db, err := OpenBolt(path, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := OpenBolt(path, BoltOptions{Timeout: 50e6}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	err = db.Update(ctx, func(tx Tx) error {
		if !tx.Writable() {
			t.Error("Update transaction not writable")
		}
		if b := tx.Bucket([]byte("none")); b != nil {
			t.Errorf("missing bucket = %#v, want untyped nil", b)
		}
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket([]byte("b")); !errors.Is(err, ErrBucketExists) {
			t.Errorf("CreateBucket twice: %v", err)
		}
		if err := tx.DeleteBucket([]byte("none")); !errors.Is(err, ErrBucketNotFound) {
			t.Errorf("DeleteBucket missing: %v", err)
		}
		if nb := b.Bucket([]byte("none")); nb != nil {
			t.Errorf("missing nested bucket = %#v, want untyped nil", nb)
		}
		for _, k := range []string{"c", "a", "b"} {
			if err := b.Put([]byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		if _, err := b.CreateBucket([]byte("n")); err != nil {
			return err
		}
		if _, err := b.CreateBucket([]byte("a")); !errors.Is(err, ErrIncompatibleValue) {
			t.Errorf("bucket over a value: %v", err)
		}
		for want := uint64(1); want <= 2; want++ {
			if n, err := b.NextSequence(); err != nil || n != want {
				t.Errorf("NextSequence = %d, %v; want %d", n, err, want)
			}
		}
		if b.Sequence() != 2 {
			t.Errorf("Sequence = %d, want 2", b.Sequence())
		}
		if err := b.SetSequence(41); err != nil {
			return err
		}
		if n, _ := b.NextSequence(); n != 42 {
			t.Errorf("NextSequence after SetSequence(41) = %d", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(ctx, func(tx Tx) error {
		b := tx.Bucket([]byte("b"))
		var keys []string
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if string(k) == "n" && v != nil {
				t.Error("nested bucket has a value")
			}
			keys = append(keys, string(k))
		}
		if got := strings.Join(keys, " "); got != "a b c n" {
			t.Errorf("cursor order %q", got)
		}
		if k, _ := c.Seek([]byte("bb")); string(k) != "c" {
			t.Errorf("Seek(bb) = %q", k)
		}
		if b.KeyN() != 4 {
			t.Errorf("KeyN = %d, want 4", b.KeyN())
		}
		fs, ok := tx.(FileSnapshotter)
		if !ok {
			t.Fatal("bolt transaction is not a FileSnapshotter")
		}
		var buf bytes.Buffer
		if n, err := fs.WriteTo(&buf); err != nil || n != fs.Size() || int64(buf.Len()) != n {
			t.Errorf("WriteTo = %d, %v; Size %d, wrote %d", n, err, fs.Size(), buf.Len())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = db.Update(ctx, func(tx Tx) error {
		tx.Bucket([]byte("b")).Put([]byte("z"), []byte("z"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failed Update returned %v", err)
	}
	db.View(ctx, func(tx Tx) error {
		if v := tx.Bucket([]byte("b")).Get([]byte("z")); v != nil {
			t.Errorf("rolled-back Put is visible: %q", v)
		}
		return nil
	})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.View(cctx, func(Tx) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("View with a cancelled context: %v", err)
	}
}
