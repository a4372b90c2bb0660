package kv

import (
	"context"
	"errors"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrLocked is returned by OpenBolt when another process holds the file.
var ErrLocked = errors.New("kv: database file is in use by another process")

// BoltOptions tune OpenBolt; the zero value is fine.
type BoltOptions struct {
	// Timeout bounds the wait for the file lock (0 = 200 ms).
	Timeout time.Duration
	// NoSync disables fsync (benchmark baselines only).
	NoSync bool
	// ReadOnly opens the file for reading only (shared lock).
	ReadOnly bool
}

// FileSnapshotter is implemented by the transactions of an engine whose
// whole database is one file (bbolt): Size and WriteTo copy that file as of
// the transaction, consistently, while writers carry on. The PostgreSQL
// engine does not implement it (pg_dump is its backup).
type FileSnapshotter interface {
	// Size is the byte length WriteTo will write.
	Size() int64
	// WriteTo writes the database file as of this transaction.
	WriteTo(w io.Writer) (int64, error)
}

// OpenBolt opens (creating if needed) the bbolt database file at path. It
// fails with ErrLocked if another process holds it.
func OpenBolt(path string, o BoltOptions) (DB, error) {
	if o.Timeout == 0 {
		o.Timeout = 200 * time.Millisecond
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      o.Timeout,
		NoSync:       o.NoSync,
		ReadOnly:     o.ReadOnly,
		FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, err
	}
	return boltDB{db}, nil
}

// The wrappers are single-pointer structs so that turning one into an
// interface value does not allocate.
type (
	boltDB     struct{ db *bolt.DB }
	boltTx     struct{ tx *bolt.Tx }
	boltBucket struct{ b *bolt.Bucket }
	boltCursor struct{ c *bolt.Cursor }
)

func (d boltDB) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.db.View(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

func (d boltDB) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.db.Update(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

func (d boltDB) Close() error { return d.db.Close() }

// bucketOf keeps a missing bucket an untyped nil interface, so callers'
// `b == nil` checks work.
func bucketOf(b *bolt.Bucket) Bucket {
	if b == nil {
		return nil
	}
	return boltBucket{b}
}

// mapErr turns bbolt's sentinel errors into this package's.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bolt.ErrBucketExists):
		return ErrBucketExists
	case errors.Is(err, bolt.ErrBucketNotFound):
		return ErrBucketNotFound
	case errors.Is(err, bolt.ErrIncompatibleValue):
		return ErrIncompatibleValue
	}
	return err
}

func created(b *bolt.Bucket, err error) (Bucket, error) {
	if err != nil {
		return nil, mapErr(err)
	}
	return boltBucket{b}, nil
}

func (t boltTx) Bucket(name []byte) Bucket { return bucketOf(t.tx.Bucket(name)) }
func (t boltTx) CreateBucket(name []byte) (Bucket, error) {
	return created(t.tx.CreateBucket(name))
}
func (t boltTx) CreateBucketIfNotExists(name []byte) (Bucket, error) {
	return created(t.tx.CreateBucketIfNotExists(name))
}
func (t boltTx) DeleteBucket(name []byte) error               { return mapErr(t.tx.DeleteBucket(name)) }
func (t boltTx) Writable() bool                               { return t.tx.Writable() }
func (t boltTx) Size() int64                                  { return t.tx.Size() }
func (t boltTx) WriteTo(w io.Writer) (int64, error)           { return t.tx.WriteTo(w) }
func (b boltBucket) Get(key []byte) []byte                    { return b.b.Get(key) }
func (b boltBucket) Put(key, value []byte) error              { return mapErr(b.b.Put(key, value)) }
func (b boltBucket) Delete(key []byte) error                  { return mapErr(b.b.Delete(key)) }
func (b boltBucket) Bucket(name []byte) Bucket                { return bucketOf(b.b.Bucket(name)) }
func (b boltBucket) DeleteBucket(name []byte) error           { return mapErr(b.b.DeleteBucket(name)) }
func (b boltBucket) Cursor() Cursor                           { return boltCursor{b.b.Cursor()} }
func (b boltBucket) NextSequence() (uint64, error)            { return b.b.NextSequence() }
func (b boltBucket) Sequence() uint64                         { return b.b.Sequence() }
func (b boltBucket) SetSequence(v uint64) error               { return b.b.SetSequence(v) }
func (b boltBucket) KeyN() int                                { return b.b.Stats().KeyN }
func (b boltBucket) ForEach(fn func(k, v []byte) error) error { return b.b.ForEach(fn) }
func (b boltBucket) CreateBucket(name []byte) (Bucket, error) {
	return created(b.b.CreateBucket(name))
}
func (b boltBucket) CreateBucketIfNotExists(name []byte) (Bucket, error) {
	return created(b.b.CreateBucketIfNotExists(name))
}

func (c boltCursor) First() ([]byte, []byte)        { return c.c.First() }
func (c boltCursor) Last() ([]byte, []byte)         { return c.c.Last() }
func (c boltCursor) Seek(k []byte) ([]byte, []byte) { return c.c.Seek(k) }
func (c boltCursor) Next() ([]byte, []byte)         { return c.c.Next() }
func (c boltCursor) Prev() ([]byte, []byte)         { return c.c.Prev() }
func (c boltCursor) Delete() error                  { return mapErr(c.c.Delete()) }
