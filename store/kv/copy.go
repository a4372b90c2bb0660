package kv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// Copy copies the top-level buckets names of src (with every key, nested
// bucket and bucket sequence in them) into dst, from one read transaction
// of src, so the copy is of one consistent moment. It writes in
// transactions of about batch entries. A bucket missing in src is skipped;
// keys already in dst are overwritten. progress, if set, is told the number
// of entries copied so far after each write transaction.
func Copy(ctx context.Context, dst, src DB, names []string, batch int, progress func(n int)) (int, error) {
	if batch <= 0 {
		batch = 5000
	}
	type op struct {
		path     [][]byte
		key, val []byte // val nil: a bucket
		seq      uint64
	}
	var pending []op
	n := 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := dst.Update(ctx, func(tx Tx) error {
			for _, o := range pending {
				if len(o.path) == 0 { // a top-level bucket
					b, err := tx.CreateBucketIfNotExists(o.key)
					if err != nil {
						return err
					}
					if err := b.SetSequence(o.seq); err != nil {
						return err
					}
					continue
				}
				parent := tx.Bucket(o.path[0])
				for _, p := range o.path[1:] {
					parent = parent.Bucket(p)
				}
				if o.val != nil {
					if err := parent.Put(o.key, o.val); err != nil {
						return err
					}
					continue
				}
				b, err := parent.CreateBucketIfNotExists(o.key)
				if err != nil {
					return err
				}
				if err := b.SetSequence(o.seq); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		n += len(pending)
		pending = pending[:0]
		if progress != nil {
			progress(n)
		}
		return nil
	}
	var walk func(b Bucket, path [][]byte) error
	walk = func(b Bucket, path [][]byte) error {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			key := bytes.Clone(k)
			if v == nil {
				nb := b.Bucket(k)
				if nb == nil {
					continue
				}
				pending = append(pending, op{path: path, key: key, seq: nb.Sequence()})
				if err := walk(nb, append(path[:len(path):len(path)], key)); err != nil {
					return err
				}
			} else {
				pending = append(pending, op{path: path, key: key, val: bytes.Clone(v)})
			}
			if len(pending) >= batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err := src.View(ctx, func(tx Tx) error {
		for _, name := range names {
			b := tx.Bucket([]byte(name))
			if b == nil {
				continue
			}
			key := []byte(name)
			pending = append(pending, op{key: key, seq: b.Sequence()})
			if err := walk(b, [][]byte{key}); err != nil {
				return err
			}
		}
		return flush()
	})
	return n, err
}

// Digest summarises one top-level bucket: how many entries it holds
// (values and nested buckets, at every depth) and a SHA-256 over every
// path, key, value and bucket sequence in order. Two buckets with equal
// digests hold the same data.
type Digest struct {
	Entries int
	Sum     [32]byte
}

// Digests returns the Digest of each of names that exists in db, from one
// read transaction.
func Digests(ctx context.Context, db DB, names []string) (map[string]Digest, error) {
	out := map[string]Digest{}
	err := db.View(ctx, func(tx Tx) error {
		for _, name := range names {
			b := tx.Bucket([]byte(name))
			if b == nil {
				continue
			}
			h := sha256.New()
			n := digest(h, b, 0)
			d := Digest{Entries: n}
			copy(d.Sum[:], h.Sum(nil))
			out[name] = d
		}
		return nil
	})
	return out, err
}

func digest(h hash.Hash, b Bucket, depth int) int {
	field := func(p []byte) {
		h.Write(binary.AppendUvarint(nil, uint64(len(p))))
		h.Write(p)
	}
	h.Write(binary.AppendUvarint(nil, b.Sequence()))
	n := 0
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		n++
		h.Write([]byte{byte(depth)})
		field(k)
		if v != nil {
			h.Write([]byte{'v'})
			field(v)
			continue
		}
		h.Write([]byte{'b'})
		if nb := b.Bucket(k); nb != nil {
			n += digest(h, nb, depth+1)
		}
		h.Write([]byte{'e'})
	}
	return n
}
