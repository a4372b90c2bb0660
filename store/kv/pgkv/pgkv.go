// Package pgkv is the PostgreSQL engine of store/kv: the same ordered,
// nestable buckets and serial writable transactions as bbolt, kept in two
// tables of a database that several mailsrv servers share.
//
// How the kv model maps onto PostgreSQL:
//
//   - kv_bucket (id, seq) holds every bucket and its NextSequence counter;
//     bucket 0 is the root, whose entries are the top-level buckets.
//   - kv_entry (bucket, key bytea, value bytea, child bigint) holds every
//     key: a value, or (child set, value NULL) a nested bucket. The primary
//     key (bucket, key) orders a bucket's keys as bbolt does, because bytea
//     compares as memcmp then length.
//   - A writable transaction takes one cluster-wide advisory lock
//     (pg_advisory_xact_lock) before anything else, so writers are serial
//     across every server sharing the database, exactly as bbolt's single
//     writer: read-modify-write code needs no retry loop, and UIDs, MODSEQs
//     and sequences stay gap-free. It runs at READ COMMITTED, so each of its
//     statements sees everything committed before the lock was granted.
//   - A read transaction is REPEATABLE READ READ ONLY: one snapshot.
//   - Commit is an ordinary COMMIT: as durable as the operator's
//     synchronous_commit (never turned off here).
//
// Round trips are what costs, so a transaction caches what it has read
// (Get, bucket ids), queues its writes and sends them in one pipelined
// batch together with the next read (or the COMMIT), and cursors fetch
// pages of keys that grow from 32 to 512 rows. The kv interfaces return no
// error from Get or cursor moves: a failed query there is remembered, the
// call returns nil, and the transaction fails with that error.
//
// Every write commit sends NOTIFY on channel "mailsrv_kv" (see
// DB.Changes), so other servers learn of it at once.
package pgkv

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"mailsrv/store/kv"
)

// ErrTxNotWritable is returned by a write in a View transaction.
var ErrTxNotWritable = errors.New("pgkv: transaction is read-only")

// NotifyChannel is the channel every write commit notifies.
const NotifyChannel = "mailsrv_kv"

// writeLock is the advisory lock key every writable transaction holds
// ("mailsrv" + 1); migrateLock serialises schema migrations at Open.
const (
	writeLock   int64 = 0x6d61696c73727601
	migrateLock int64 = 0x6d61696c73727602
)

// DB is an open PostgreSQL engine.
type DB struct {
	pool *pgxpool.Pool
	url  string
}

var _ kv.DB = (*DB)(nil)

// Open connects to the database at url (a postgres:// URL or key=value
// DSN), applies the schema migrations this version needs, and returns the
// engine. Several servers may Open the same database at once.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgkv: postgres_url: %w", err)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgkv: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{pool: pool, url: url}, nil
}

// Close closes every connection. Transactions must have ended.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

// View runs fn in a read-only snapshot.
func (d *DB) View(ctx context.Context, fn func(kv.Tx) error) error {
	return d.run(ctx, false, fn)
}

// Update runs fn in the one writable transaction of the cluster and
// commits it if fn returns nil.
func (d *DB) Update(ctx context.Context, fn func(kv.Tx) error) error {
	return d.run(ctx, true, fn)
}

func (d *DB) run(ctx context.Context, writable bool, fn func(kv.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgkv: connect: %w", err)
	}
	defer conn.Release()
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	if writable {
		opts = pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
	}
	ptx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("pgkv: begin: %w", err)
	}
	t := newTx(ctx, ptx, writable)
	defer func() {
		if err != nil {
			ptx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if writable {
		if _, err := ptx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", writeLock); err != nil {
			return fmt.Errorf("pgkv: wait for the write lock: %w", err)
		}
	}
	if err := fn(t); err != nil {
		return err
	}
	if t.err != nil {
		return t.err
	}
	if writable {
		if err := t.finish(); err != nil {
			return err
		}
	}
	if err := ptx.Commit(ctx); err != nil {
		return fmt.Errorf("pgkv: commit: %w", err)
	}
	return nil
}
