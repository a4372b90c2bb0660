// Package kv is the ordered key-value transaction model the store is
// written against, so that the same store code (schema, rules, events)
// runs on more than one engine: bbolt for one process on one disk
// (bolt.go) and PostgreSQL for several servers sharing one database
// (package store/kv/pgkv). This is the shape Stalwart uses over
// FoundationDB/PostgreSQL: the mail logic is written once, and each engine
// only has to provide ordered buckets and serialisable transactions.
//
// The model is bbolt's, because the store was written for it:
//
//   - A transaction is read-only (a consistent snapshot) or writable. At most
//     one writable transaction runs at a time across every process that
//     shares the engine (bbolt: one process; PostgreSQL: an advisory lock),
//     so read-modify-write code needs no retry loop, and UIDs, MODSEQs and
//     sequences are allocated without gaps or duplicates.
//   - Buckets are named, nestable and ordered by key bytes (memcmp order).
//     Iterating a bucket yields its nested buckets too, with a nil value.
//   - A slice returned by Get or a Cursor is valid only until the
//     transaction ends, and must not be modified; copy what you keep.
//   - Update returns only after the transaction is durable.
package kv

import (
	"context"
	"errors"
)

// ErrBucketExists is returned by CreateBucket for an existing bucket.
var ErrBucketExists = errors.New("kv: bucket already exists")

// ErrBucketNotFound is returned by DeleteBucket for a missing bucket.
var ErrBucketNotFound = errors.New("kv: bucket not found")

// ErrIncompatibleValue is returned when a key names a bucket where a value
// was expected, or the other way round.
var ErrIncompatibleValue = errors.New("kv: incompatible value")

// DB is an open engine.
type DB interface {
	// View runs fn in a read-only snapshot transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a writable transaction and commits it durably if
	// fn returns nil; otherwise everything fn did is rolled back.
	Update(ctx context.Context, fn func(Tx) error) error
	// Close releases the engine. Transactions must have ended.
	Close() error
}

// Tx is one transaction. Its methods are not safe for concurrent use.
type Tx interface {
	// Bucket returns the top-level bucket name, or nil if it does not exist.
	Bucket(name []byte) Bucket
	// CreateBucket creates a top-level bucket (ErrBucketExists if it exists).
	CreateBucket(name []byte) (Bucket, error)
	// CreateBucketIfNotExists returns the top-level bucket, creating it.
	CreateBucketIfNotExists(name []byte) (Bucket, error)
	// DeleteBucket removes a top-level bucket and everything in it.
	DeleteBucket(name []byte) error
	// Writable reports whether this is an Update transaction.
	Writable() bool
}

// Bucket is an ordered set of keys, each holding a value or a nested bucket.
type Bucket interface {
	// Get returns the value of key, or nil if key is missing or names a
	// nested bucket.
	Get(key []byte) []byte
	// Put sets key to value (which must not be nil).
	Put(key, value []byte) error
	// Delete removes key; a missing key is not an error.
	Delete(key []byte) error

	// Bucket returns the nested bucket name, or nil.
	Bucket(name []byte) Bucket
	// CreateBucket creates a nested bucket (ErrBucketExists if it exists).
	CreateBucket(name []byte) (Bucket, error)
	// CreateBucketIfNotExists returns the nested bucket, creating it.
	CreateBucketIfNotExists(name []byte) (Bucket, error)
	// DeleteBucket removes a nested bucket and everything in it.
	DeleteBucket(name []byte) error

	// Cursor returns a cursor over the bucket's keys in byte order.
	Cursor() Cursor
	// ForEach calls fn for every key in order (v is nil for a nested
	// bucket) and stops at the first error, which it returns. fn must not
	// modify the bucket.
	ForEach(fn func(k, v []byte) error) error
	// NextSequence returns the bucket's next sequence number, starting at 1.
	NextSequence() (uint64, error)
	// Sequence returns the bucket's last sequence number (0 if none yet),
	// without changing it.
	Sequence() uint64
	// SetSequence sets it (a copy of a store keeps its ids: `mailsrv
	// migrate`).
	SetSequence(v uint64) error
	// KeyN is a hint of how many keys the bucket holds (for allocation);
	// an engine that cannot tell cheaply returns 0.
	KeyN() int
}

// Cursor walks a bucket. A nil key means there is no such entry. A nested
// bucket is returned with a nil value. After any write to the bucket
// (Cursor.Delete included), reposition the cursor (First, Last, Seek)
// before Next or Prev: bbolt's Next after a Delete can skip a key
// (etcd-io/bbolt#146), and Last after many deletes in one transaction
// did not return in kvtest on bbolt 1.5.0.
type Cursor interface {
	First() (k, v []byte)
	Last() (k, v []byte)
	// Seek moves to key, or the next key after it.
	Seek(key []byte) (k, v []byte)
	Next() (k, v []byte)
	Prev() (k, v []byte)
	// Delete removes the entry under the cursor (not a nested bucket).
	Delete() error
}
