package pgkv

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"mailsrv/store/kv"
)

// errKeyRequired mirrors bbolt's refusal; a nil value is stored empty, as
// bbolt does.
var (
	errKeyRequired = errors.New("pgkv: key required")
	errDeleted     = errors.New("pgkv: bucket was deleted in this transaction")
)

// bucket is one bucket as seen by one transaction.
type bucket struct {
	tx     *tx
	id     int64
	parent *bucket
	// cache holds what this transaction knows of keys: read from the
	// database, or written by it. A missing key is an entry with nil val
	// and child 0.
	cache    map[string]entry
	complete bool // created in this transaction: a key not in cache is missing
	version  int  // bumped by every change of this bucket's keys (cursor pages)
	seq      int64
	seqKnown bool
	seqDirty bool
	deleted  bool
}

var _ kv.Bucket = (*bucket)(nil)

type entry struct {
	val   []byte
	child int64 // a nested bucket's id; 0 for a value (bucket 0 is the root)
}

func (e entry) missing() bool { return e.val == nil && e.child == 0 }

// lookup returns what key holds, reading it from the database once.
func (b *bucket) lookup(key []byte) entry {
	if e, ok := b.cache[string(key)]; ok || b.complete {
		return e
	}
	var e entry
	q := query{"SELECT value, child FROM kv_entry WHERE bucket = $1 AND key = $2", []any{b.id, key}}
	err := b.tx.flush("get", &q, func(r pgx.Rows) error {
		var child *int64
		if err := r.Scan(&e.val, &child); err != nil {
			return err
		}
		if child != nil {
			e.child, e.val = *child, nil
		}
		return nil
	})
	if err != nil {
		return entry{}
	}
	b.cache[string(key)] = e
	return e
}

func (b *bucket) writable() error {
	switch {
	case !b.tx.writable:
		return ErrTxNotWritable
	case b.deleted:
		return errDeleted
	case b.tx.err != nil:
		return b.tx.err
	}
	return nil
}

func (b *bucket) changed(key []byte, e entry) {
	b.cache[string(key)] = e
	b.version++
}

func (b *bucket) Get(key []byte) []byte {
	if b.deleted {
		return nil
	}
	return b.lookup(key).val
}

func (b *bucket) Put(key, value []byte) error {
	if err := b.writable(); err != nil {
		return err
	}
	if len(key) == 0 {
		return errKeyRequired
	}
	if e, ok := b.cache[string(key)]; ok && e.child != 0 {
		return fmt.Errorf("pgkv: put %q: %w", key, kv.ErrIncompatibleValue)
	}
	k := append([]byte(nil), key...)
	v := append(make([]byte, 0, len(value)), value...) // never nil: nil means missing
	b.tx.queue(func(tag pgconn.CommandTag) error {
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("put %q: %w", k, kv.ErrIncompatibleValue)
		}
		return nil
	}, `INSERT INTO kv_entry (bucket, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (bucket, key) DO UPDATE SET value = EXCLUDED.value WHERE kv_entry.child IS NULL`,
		b.id, k, v)
	b.changed(k, entry{val: v})
	return nil
}

func (b *bucket) Delete(key []byte) error {
	if err := b.writable(); err != nil {
		return err
	}
	e, known := b.cache[string(key)]
	if !known && b.complete {
		return nil
	}
	if known && e.child != 0 {
		return fmt.Errorf("pgkv: delete %q: %w", key, kv.ErrIncompatibleValue)
	}
	if known && e.missing() {
		return nil
	}
	b.tx.queue(nil, "DELETE FROM kv_entry WHERE bucket = $1 AND key = $2 AND child IS NULL", b.id, append([]byte(nil), key...))
	if known {
		b.changed(key, entry{})
	} else {
		// It may name a nested bucket (then nothing was deleted): ask
		// again when it is read.
		delete(b.cache, string(key))
		b.version++
	}
	return nil
}

func (b *bucket) Bucket(name []byte) kv.Bucket {
	if c := b.bucket(name); c != nil {
		return c
	}
	return nil
}

func (b *bucket) bucket(name []byte) *bucket {
	if b.deleted {
		return nil
	}
	e := b.lookup(name)
	if e.child == 0 {
		return nil
	}
	return b.tx.bucketByID(e.child, b)
}

func (b *bucket) CreateBucket(name []byte) (kv.Bucket, error) {
	c, err := b.createBucket(name, false)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (b *bucket) CreateBucketIfNotExists(name []byte) (kv.Bucket, error) {
	c, err := b.createBucket(name, true)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (b *bucket) createBucket(name []byte, mayExist bool) (*bucket, error) {
	if err := b.writable(); err != nil {
		return nil, err
	}
	if len(name) == 0 {
		return nil, errKeyRequired
	}
	e := b.lookup(name)
	switch {
	case b.tx.err != nil:
		return nil, b.tx.err
	case e.child != 0 && mayExist:
		return b.tx.bucketByID(e.child, b), nil
	case e.child != 0:
		return nil, fmt.Errorf("pgkv: create bucket %q: %w", name, kv.ErrBucketExists)
	case e.val != nil:
		return nil, fmt.Errorf("pgkv: create bucket %q: %w", name, kv.ErrIncompatibleValue)
	}
	k := append([]byte(nil), name...)
	var id int64
	q := query{`WITH nb AS (INSERT INTO kv_bucket (id) VALUES (nextval('kv_bucket_id')) RETURNING id)
		INSERT INTO kv_entry (bucket, key, child) SELECT $1, $2, id FROM nb RETURNING child`, []any{b.id, k}}
	if err := b.tx.flush("create bucket", &q, func(r pgx.Rows) error { return r.Scan(&id) }); err != nil {
		return nil, err
	}
	b.tx.dirty = true
	b.changed(k, entry{child: id})
	c := b.tx.bucketByID(id, b)
	c.complete, c.seqKnown = true, true
	return c, nil
}

func (b *bucket) DeleteBucket(name []byte) error {
	if err := b.writable(); err != nil {
		return err
	}
	e := b.lookup(name)
	switch {
	case b.tx.err != nil:
		return b.tx.err
	case e.val != nil:
		return fmt.Errorf("pgkv: delete bucket %q: %w", name, kv.ErrIncompatibleValue)
	case e.child == 0:
		return fmt.Errorf("pgkv: delete bucket %q: %w", name, kv.ErrBucketNotFound)
	}
	k := append([]byte(nil), name...)
	b.tx.queue(nil, `WITH RECURSIVE sub(id) AS (
			SELECT $3::bigint
			UNION ALL
			SELECT e.child FROM kv_entry e JOIN sub ON e.bucket = sub.id WHERE e.child IS NOT NULL),
		de AS (DELETE FROM kv_entry WHERE bucket IN (SELECT id FROM sub)),
		db AS (DELETE FROM kv_bucket WHERE id IN (SELECT id FROM sub))
		DELETE FROM kv_entry WHERE bucket = $1 AND key = $2`, b.id, k, e.child)
	b.changed(k, entry{})
	b.tx.markDeleted(e.child)
	return nil
}

// markDeleted marks bucket id and the buckets under it that this
// transaction has opened as deleted.
func (t *tx) markDeleted(id int64) {
	for _, c := range t.byID {
		for p := c; p != nil; p = p.parent {
			if p.id == id {
				c.deleted = true
				break
			}
		}
	}
	delete(t.byID, id)
}

// loadSeq reads the bucket's sequence counter once per transaction.
func (b *bucket) loadSeq() error {
	if b.seqKnown {
		return nil
	}
	q := query{"SELECT seq FROM kv_bucket WHERE id = $1", []any{b.id}}
	if err := b.tx.flush("read sequence", &q, func(r pgx.Rows) error { return r.Scan(&b.seq) }); err != nil {
		return err
	}
	b.seqKnown = true
	return nil
}

func (b *bucket) NextSequence() (uint64, error) {
	if err := b.writable(); err != nil {
		return 0, err
	}
	if err := b.loadSeq(); err != nil {
		return 0, err
	}
	b.seq++
	b.seqDirty, b.tx.dirty = true, true
	return uint64(b.seq), nil
}

// Sequence returns the last sequence number (0 on a failed read, which
// also fails the transaction).
func (b *bucket) Sequence() uint64 {
	if b.deleted || b.loadSeq() != nil {
		return 0
	}
	return uint64(b.seq)
}

func (b *bucket) SetSequence(v uint64) error {
	if err := b.writable(); err != nil {
		return err
	}
	b.seq, b.seqKnown = int64(v), true
	b.seqDirty, b.tx.dirty = true, true
	return nil
}

// KeyN is not known without counting; 0 says so.
func (b *bucket) KeyN() int { return 0 }

func (b *bucket) ForEach(fn func(k, v []byte) error) error {
	c := b.cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return b.tx.err
}

func (b *bucket) Cursor() kv.Cursor { return b.cursor() }
