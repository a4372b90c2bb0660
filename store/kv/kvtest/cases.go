package kvtest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"

	"mailsrv/store/kv"
)

func testBuckets(t *testing.T, _ Engine, db kv.DB) {
	update(t, db, func(tx kv.Tx) error {
		if !tx.Writable() {
			t.Error("Update transaction is not Writable")
		}
		if tx.Bucket([]byte("a")) != nil {
			t.Error("a missing bucket is not nil")
		}
		a, err := tx.CreateBucket([]byte("a"))
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket([]byte("a")); !errors.Is(err, kv.ErrBucketExists) {
			t.Errorf("CreateBucket of an existing bucket: %v, want ErrBucketExists", err)
		}
		if again, err := tx.CreateBucketIfNotExists([]byte("a")); err != nil || again == nil {
			t.Errorf("CreateBucketIfNotExists of an existing bucket: %v", err)
		}
		if err := a.Put([]byte("k"), []byte("v")); err != nil {
			return err
		}
		n, err := a.CreateBucket([]byte("nested"))
		if err != nil {
			return err
		}
		if err := n.Put([]byte("deep"), []byte("1")); err != nil {
			return err
		}
		if _, err := n.CreateBucket([]byte("deeper")); err != nil {
			return err
		}
		if _, err := a.CreateBucket([]byte("k")); !errors.Is(err, kv.ErrIncompatibleValue) {
			t.Errorf("CreateBucket over a value: %v, want ErrIncompatibleValue", err)
		}
		if err := a.Put([]byte("nested"), []byte("x")); !errors.Is(err, kv.ErrIncompatibleValue) {
			t.Errorf("Put over a nested bucket: %v, want ErrIncompatibleValue", err)
		}
		if err := a.DeleteBucket([]byte("k")); !errors.Is(err, kv.ErrIncompatibleValue) {
			t.Errorf("DeleteBucket of a value: %v, want ErrIncompatibleValue", err)
		}
		if err := a.Delete([]byte("nested")); !errors.Is(err, kv.ErrIncompatibleValue) {
			t.Errorf("Delete of a nested bucket: %v, want ErrIncompatibleValue", err)
		}
		if err := a.DeleteBucket([]byte("none")); !errors.Is(err, kv.ErrBucketNotFound) {
			t.Errorf("DeleteBucket of a missing bucket: %v, want ErrBucketNotFound", err)
		}
		if err := tx.DeleteBucket([]byte("none")); !errors.Is(err, kv.ErrBucketNotFound) {
			t.Errorf("tx.DeleteBucket of a missing bucket: %v, want ErrBucketNotFound", err)
		}
		if a.Get([]byte("nested")) != nil {
			t.Error("Get of a nested bucket's name is not nil")
		}
		return nil
	})
	view(t, db, func(tx kv.Tx) error {
		if tx.Writable() {
			t.Error("View transaction is Writable")
		}
		a := tx.Bucket([]byte("a"))
		if a == nil {
			t.Fatal("bucket a is gone after commit")
		}
		if got := string(a.Get([]byte("k"))); got != "v" {
			t.Errorf("a/k = %q, want v", got)
		}
		n := a.Bucket([]byte("nested"))
		if n == nil || string(n.Get([]byte("deep"))) != "1" || n.Bucket([]byte("deeper")) == nil {
			t.Error("nested buckets or their keys are missing after commit")
		}
		if a.Bucket([]byte("k")) != nil {
			t.Error("Bucket of a value's key is not nil")
		}
		return nil
	})
	// Deleting a bucket deletes what is under it, at every depth.
	update(t, db, func(tx kv.Tx) error {
		if err := tx.Bucket([]byte("a")).DeleteBucket([]byte("nested")); err != nil {
			return err
		}
		if tx.Bucket([]byte("a")).Bucket([]byte("nested")) != nil {
			t.Error("a deleted bucket is still there in its transaction")
		}
		n, err := tx.Bucket([]byte("a")).CreateBucket([]byte("nested"))
		if err != nil {
			return err
		}
		if got := keys(n); len(got) != 0 {
			t.Errorf("a re-created bucket holds %v", got)
		}
		return nil
	})
	view(t, db, func(tx kv.Tx) error {
		n := tx.Bucket([]byte("a")).Bucket([]byte("nested"))
		if n == nil {
			t.Fatal("re-created bucket missing")
		}
		if got := keys(n); len(got) != 0 {
			t.Errorf("a re-created bucket holds %v after commit", got)
		}
		return nil
	})
	update(t, db, func(tx kv.Tx) error { return tx.DeleteBucket([]byte("a")) })
	view(t, db, func(tx kv.Tx) error {
		if tx.Bucket([]byte("a")) != nil {
			t.Error("a deleted top-level bucket is still there")
		}
		return nil
	})
}

func testNestedIteration(t *testing.T, _ Engine, db kv.DB) {
	update(t, db, func(tx kv.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		for _, k := range []string{"a", "c", "e"} {
			if err := b.Put([]byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		for _, k := range []string{"b", "d"} {
			if _, err := b.CreateBucket([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, db, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("b"))
		want := []string{"a", "b/", "c", "d/", "e"}
		if got := keys(b); !slices.Equal(got, want) {
			t.Errorf("cursor: %v, want %v", got, want)
		}
		var got []string
		err := b.ForEach(func(k, v []byte) error {
			s := string(k)
			if v == nil {
				s += "/"
			} else if string(v) != "v"+string(k) {
				t.Errorf("ForEach %s = %q", k, v)
			}
			got = append(got, s)
			return nil
		})
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ForEach: %v, %v, want %v", got, err, want)
		}
		return nil
	})
}

// orderKeys have the bytes that trip up non-memcmp orders: 0x00, 0xff,
// bytes above 0x7f (signed char), prefixes and upper/lower case.
var orderKeys = [][]byte{
	{0x00}, {0x00, 0x00}, {0x00, 0x01}, {0x01}, {0x7f}, {0x80}, {0xc3, 0xa9},
	{0xfe}, {0xff}, {0xff, 0x00}, {0xff, 0xff}, []byte("A"), []byte("B"),
	[]byte("a"), []byte("ab"), []byte("b"), []byte("Z"), {0x00, 0xff},
}

func testOrder(t *testing.T, _ Engine, db kv.DB) {
	update(t, db, func(tx kv.Tx) error {
		b, err := tx.CreateBucket([]byte("o"))
		if err != nil {
			return err
		}
		for i, k := range orderKeys {
			if err := b.Put(k, []byte{byte(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	want := slices.Clone(orderKeys)
	sort.Slice(want, func(i, j int) bool { return bytes.Compare(want[i], want[j]) < 0 })
	view(t, db, func(tx kv.Tx) error {
		c := tx.Bucket([]byte("o")).Cursor()
		var got [][]byte
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			got = append(got, slices.Clone(k))
		}
		if !slices.EqualFunc(got, want, bytes.Equal) {
			t.Errorf("forward order %x, want %x", got, want)
		}
		got = nil
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			got = append(got, slices.Clone(k))
		}
		slices.Reverse(got)
		if !slices.EqualFunc(got, want, bytes.Equal) {
			t.Errorf("backward order %x, want %x", got, want)
		}
		if k, _ := c.Seek([]byte{0x00, 0x00, 0x00}); !bytes.Equal(k, []byte{0x00, 0x01}) {
			t.Errorf("Seek(00 00 00) = %x, want 00 01", k)
		}
		if k, _ := c.Seek([]byte{0xff, 0x00, 0x00}); !bytes.Equal(k, []byte{0xff, 0xff}) {
			t.Errorf("Seek(ff 00 00) = %x, want ff ff", k)
		}
		return nil
	})
}

// bigN crosses any engine's cursor page size several times.
const bigN = 1500

func key(i int) []byte { return []byte(fmt.Sprintf("k%05d", i)) }

func fill(t *testing.T, db kv.DB, name string, n int) {
	t.Helper()
	update(t, db, func(tx kv.Tx) error {
		b, err := tx.CreateBucket([]byte(name))
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := b.Put(key(i*2), []byte(fmt.Sprint(i*2))); err != nil {
				return err
			}
		}
		return nil
	})
}

func testCursor(t *testing.T, _ Engine, db kv.DB) {
	fill(t, db, "c", bigN) // even keys k00000 .. k02998
	view(t, db, func(tx kv.Tx) error {
		c := tx.Bucket([]byte("c")).Cursor()
		n := 0
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if !bytes.Equal(k, key(n*2)) || string(v) != fmt.Sprint(n*2) {
				t.Fatalf("entry %d: %s=%s", n, k, v)
			}
			n++
		}
		if n != bigN {
			t.Errorf("Next walked %d keys, want %d", n, bigN)
		}
		n = 0
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			if !bytes.Equal(k, key((bigN-1-n)*2)) {
				t.Fatalf("backward entry %d: %s", n, k)
			}
			n++
		}
		if n != bigN {
			t.Errorf("Prev walked %d keys, want %d", n, bigN)
		}
		if k, _ := c.Seek(key(1001)); !bytes.Equal(k, key(1002)) {
			t.Errorf("Seek between keys: %s, want %s", k, key(1002))
		}
		if k, _ := c.Prev(); !bytes.Equal(k, key(1000)) {
			t.Errorf("Prev after Seek: %s, want %s", k, key(1000))
		}
		if k, _ := c.Next(); !bytes.Equal(k, key(1002)) {
			t.Errorf("Next after Prev: %s, want %s", k, key(1002))
		}
		if k, _ := c.Seek(key(1002)); !bytes.Equal(k, key(1002)) {
			t.Errorf("Seek of a key: %s", k)
		}
		if k, v := c.Seek(key(bigN * 2)); k != nil || v != nil {
			t.Errorf("Seek past the end: %s", k)
		}
		if k, _ := c.First(); !bytes.Equal(k, key(0)) {
			t.Errorf("First: %s", k)
		}
		if k, _ := c.Prev(); k != nil {
			t.Errorf("Prev before First: %s", k)
		}
		if k, _ := c.Last(); !bytes.Equal(k, key((bigN-1)*2)) {
			t.Errorf("Last: %s", k)
		}
		if k, _ := c.Next(); k != nil {
			t.Errorf("Next after Last: %s", k)
		}
		// A walk that starts in the middle and turns back crosses pages.
		c.Seek(key(600))
		for i := 0; i < 700; i++ {
			c.Next()
		}
		k, _ := c.Seek(key(2000))
		for i := 0; i < 700 && k != nil; i++ {
			k, _ = c.Prev()
		}
		if !bytes.Equal(k, key(600)) {
			t.Errorf("700 Prev from %s: %s, want %s", key(2000), k, key(600))
		}
		return nil
	})
	update(t, db, func(tx kv.Tx) error {
		e, err := tx.CreateBucket([]byte("empty"))
		if err != nil {
			return err
		}
		c := e.Cursor()
		for _, move := range []func() ([]byte, []byte){c.First, c.Last, c.Next, c.Prev} {
			if k, _ := move(); k != nil {
				t.Errorf("a move in an empty bucket found %s", k)
			}
		}
		return nil
	})
}

// testCursorDelete deletes through a cursor while walking, repositioning
// after each delete as the contract asks (bbolt's Next after a Delete can
// skip a key: etcd-io/bbolt#146).
func testCursorDelete(t *testing.T, _ Engine, db kv.DB) {
	fill(t, db, "d", bigN)
	// Delete every other key through the cursor, walking forward.
	update(t, db, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("d"))
		if _, err := b.CreateBucket([]byte("k00001")); err != nil {
			return err
		}
		c := b.Cursor()
		i := 0
		for k, v := c.First(); k != nil; {
			if v == nil {
				if err := c.Delete(); !errors.Is(err, kv.ErrIncompatibleValue) {
					t.Errorf("cursor Delete of a nested bucket: %v, want ErrIncompatibleValue", err)
				}
				k, v = c.Seek(append(slices.Clone(k), 0))
				continue
			}
			if i++; i%2 == 1 {
				k = slices.Clone(k)
				if err := c.Delete(); err != nil {
					return err
				}
				k, v = c.Seek(k) // the key after the deleted one
				continue
			}
			k, v = c.Next()
		}
		if i != bigN {
			t.Errorf("walk while deleting saw %d keys, want %d", i, bigN)
		}
		return nil
	})
	view(t, db, func(tx kv.Tx) error {
		got := keys(tx.Bucket([]byte("d")))
		if len(got) != bigN/2+1 || got[0] != "k00001/" || got[1] != string(key(2)) || got[2] != string(key(6)) {
			t.Errorf("after deleting every other key: %d keys, first %v", len(got), got[:min(3, len(got))])
		}
		return nil
	})
	// Delete from the end, walking backward.
	update(t, db, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("d"))
		if err := b.DeleteBucket([]byte("k00001")); err != nil {
			return err
		}
		// Collect, then delete from the end, seeking each key. (Calling
		// Last again after each delete never returns on bbolt 1.5.0
		// once enough keys are gone.)
		c := b.Cursor()
		var all [][]byte
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			all = append(all, slices.Clone(k))
		}
		n := 0
		for _, k := range all {
			if got, _ := c.Seek(k); !bytes.Equal(got, k) {
				t.Fatalf("Seek(%s) = %s while deleting backward", k, got)
			}
			if err := c.Delete(); err != nil {
				return err
			}
			n++
		}
		if n != bigN/2 {
			t.Errorf("backward delete-all removed %d, want %d", n, bigN/2)
		}
		if k, _ := c.First(); k != nil {
			t.Errorf("bucket not empty after deleting all: %s", k)
		}
		return nil
	})
}

// testCursorOwnWrites: a cursor repositioned after writes sees them.
func testCursorOwnWrites(t *testing.T, _ Engine, db kv.DB) {
	fill(t, db, "w", 100)
	update(t, db, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("w"))
		c := b.Cursor()
		k, _ := c.First()
		if !bytes.Equal(k, key(0)) {
			t.Fatalf("First %s", k)
		}
		if err := b.Put(key(1), []byte("new")); err != nil {
			return err
		}
		if err := b.Put(key(2), []byte("changed")); err != nil {
			return err
		}
		if err := b.Delete(key(4)); err != nil {
			return err
		}
		c.Seek(key(0))
		want := []string{"k00001=new", "k00002=changed", "k00006=6"}
		for _, w := range want {
			k, v := c.Next()
			if got := string(k) + "=" + string(v); got != w {
				t.Errorf("Next after writes: %s, want %s", got, w)
			}
		}
		if v := b.Get(key(1)); string(v) != "new" {
			t.Errorf("Get of a put key: %q", v)
		}
		if v := b.Get(key(4)); v != nil {
			t.Errorf("Get of a deleted key: %q", v)
		}
		return nil
	})
}

func testForEachStops(t *testing.T, _ Engine, db kv.DB) {
	fill(t, db, "f", 50)
	stop := errors.New("stop here")
	view(t, db, func(tx kv.Tx) error {
		n := 0
		err := tx.Bucket([]byte("f")).ForEach(func(k, v []byte) error {
			n++
			if n == 7 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 7 {
			t.Errorf("ForEach returned %v after %d calls, want the callback's error after 7", err, n)
		}
		return nil
	})
}

func testNextSequence(t *testing.T, _ Engine, db kv.DB) {
	update(t, db, func(tx kv.Tx) error {
		b, err := tx.CreateBucket([]byte("s"))
		if err != nil {
			return err
		}
		other, err := tx.CreateBucket([]byte("s2"))
		if err != nil {
			return err
		}
		for want := uint64(1); want <= 3; want++ {
			if got, err := b.NextSequence(); err != nil || got != want {
				t.Errorf("NextSequence = %d, %v, want %d", got, err, want)
			}
		}
		if got, _ := other.NextSequence(); got != 1 {
			t.Errorf("a second bucket's first sequence is %d, want 1", got)
		}
		return nil
	})
	update(t, db, func(tx kv.Tx) error {
		if got, _ := tx.Bucket([]byte("s")).NextSequence(); got != 4 {
			t.Errorf("NextSequence after commit = %d, want 4", got)
		}
		return nil
	})
	failed := errors.New("roll back")
	if err := db.Update(bg, func(tx kv.Tx) error {
		tx.Bucket([]byte("s")).NextSequence()
		return failed
	}); !errors.Is(err, failed) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	update(t, db, func(tx kv.Tx) error {
		if got, _ := tx.Bucket([]byte("s")).NextSequence(); got != 5 {
			t.Errorf("NextSequence after a rolled-back one = %d, want 5", got)
		}
		return nil
	})
}

// Sequence reads the counter without moving it and SetSequence sets it,
// both kept across commits (mailsrv migrate copies ids this way).
func testSetSequence(t *testing.T, _ Engine, db kv.DB) {
	update(t, db, func(tx kv.Tx) error {
		b, err := tx.CreateBucket([]byte("s"))
		if err != nil {
			return err
		}
		if got := b.Sequence(); got != 0 {
			t.Errorf("a new bucket's Sequence = %d, want 0", got)
		}
		b.NextSequence()
		b.NextSequence()
		if got := b.Sequence(); got != 2 {
			t.Errorf("Sequence after two NextSequence = %d, want 2", got)
		}
		return b.SetSequence(1 << 40)
	})
	update(t, db, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("s"))
		if got := b.Sequence(); got != 1<<40 {
			t.Errorf("Sequence after commit = %d, want %d", got, uint64(1<<40))
		}
		if got, _ := b.NextSequence(); got != 1<<40+1 {
			t.Errorf("NextSequence after SetSequence = %d", got)
		}
		return nil
	})
	view(t, db, func(tx kv.Tx) error {
		if got := tx.Bucket([]byte("s")).Sequence(); got != 1<<40+1 {
			t.Errorf("Sequence in a reader = %d", got)
		}
		return nil
	})
}

func testRollback(t *testing.T, _ Engine, db kv.DB) {
	fill(t, db, "r", 10)
	failed := errors.New("fn failed")
	err := db.Update(bg, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("r"))
		b.Put(key(0), []byte("changed"))
		b.Put([]byte("new"), []byte("x"))
		b.Delete(key(2))
		tx.CreateBucket([]byte("created"))
		tx.DeleteBucket([]byte("r2"))
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	view(t, db, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("r"))
		if string(b.Get(key(0))) != "0" || b.Get([]byte("new")) != nil || b.Get(key(2)) == nil {
			t.Error("a failed Update's writes are visible")
		}
		if tx.Bucket([]byte("created")) != nil {
			t.Error("a failed Update's bucket exists")
		}
		return nil
	})
}

func testReadOnly(t *testing.T, _ Engine, db kv.DB) {
	fill(t, db, "ro", 1)
	view(t, db, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("ro"))
		if err := b.Put([]byte("x"), []byte("y")); err == nil {
			t.Error("Put in a View succeeded")
		}
		if err := b.Delete(key(0)); err == nil {
			t.Error("Delete in a View succeeded")
		}
		if _, err := tx.CreateBucket([]byte("x")); err == nil {
			t.Error("CreateBucket in a View succeeded")
		}
		if _, err := b.NextSequence(); err == nil {
			t.Error("NextSequence in a View succeeded")
		}
		return nil
	})
	view(t, db, func(tx kv.Tx) error {
		if tx.Bucket([]byte("x")) != nil || tx.Bucket([]byte("ro")).Get(key(0)) == nil {
			t.Error("a View changed the data")
		}
		return nil
	})
}

func testValues(t *testing.T, _ Engine, db kv.DB) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	update(t, db, func(tx kv.Tx) error {
		b, err := tx.CreateBucket([]byte("v"))
		if err != nil {
			return err
		}
		if err := b.Put([]byte("empty"), []byte{}); err != nil {
			return err
		}
		if err := b.Put([]byte("big"), big); err != nil {
			return err
		}
		if err := b.Put([]byte("bin"), []byte{0, 0xff, 0, 1}); err != nil {
			return err
		}
		if err := b.Put(nil, []byte("x")); err == nil {
			t.Error("Put of an empty key succeeded")
		}
		if v := b.Get([]byte("empty")); v == nil || len(v) != 0 {
			t.Errorf("empty value read back in its transaction as %v", v)
		}
		return nil
	})
	view(t, db, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("v"))
		if v := b.Get([]byte("empty")); v == nil || len(v) != 0 {
			t.Errorf("empty value read back as %v (nil means missing)", v)
		}
		if k, v := b.Cursor().Seek([]byte("empty")); string(k) != "empty" || v == nil {
			t.Errorf("cursor on an empty value: %q=%v (a nil value means a bucket)", k, v)
		}
		if !bytes.Equal(b.Get([]byte("big")), big) {
			t.Error("1 MiB value changed")
		}
		if !bytes.Equal(b.Get([]byte("bin")), []byte{0, 0xff, 0, 1}) {
			t.Error("binary value changed")
		}
		if b.Get([]byte("missing")) != nil {
			t.Error("missing key is not nil")
		}
		return nil
	})
}
