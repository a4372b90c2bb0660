package pgkv

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"mailsrv/store/kv"
)

// tx is one kv transaction on one PostgreSQL transaction.
type tx struct {
	ctx      context.Context
	ptx      pgx.Tx
	writable bool
	err      error // the first failure; the transaction fails with it

	root    *bucket
	byID    map[int64]*bucket
	pending pgx.Batch                       // queued writes, sent with the next read or at commit
	checks  []func(pgconn.CommandTag) error // one per queued write
	dirty   bool                            // something was written: notify at commit
}

func newTx(ctx context.Context, ptx pgx.Tx, writable bool) *tx {
	t := &tx{ctx: ctx, ptx: ptx, writable: writable, byID: map[int64]*bucket{}}
	t.root = t.bucketByID(0, nil)
	return t
}

func (t *tx) bucketByID(id int64, parent *bucket) *bucket {
	if b := t.byID[id]; b != nil {
		return b
	}
	b := &bucket{tx: t, id: id, parent: parent, cache: map[string]entry{}}
	t.byID[id] = b
	return b
}

// fail records the first error of the transaction.
func (t *tx) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

// queue adds a write to the pipeline; check, if set, inspects its result.
func (t *tx) queue(check func(pgconn.CommandTag) error, sql string, args ...any) {
	t.pending.Queue(sql, args...)
	t.checks = append(t.checks, check)
	t.dirty = true
}

// flush sends the queued writes, followed by q if it is not nil, in one
// round trip, and lets scan read q's rows.
func (t *tx) flush(what string, q *query, scan func(pgx.Rows) error) error {
	if t.err != nil {
		return t.err
	}
	if len(t.checks) == 0 {
		if q == nil {
			return nil
		}
		// Nothing queued: a plain query.
		rows, err := t.ptx.Query(t.ctx, q.sql, q.args...)
		if err == nil {
			err = scanAll(rows, scan)
		}
		if err != nil {
			t.fail(fmt.Errorf("pgkv: %s: %w", what, err))
		}
		return t.err
	}
	b, checks := t.pending, t.checks
	t.pending, t.checks = pgx.Batch{}, nil
	if q != nil {
		b.Queue(q.sql, q.args...)
	}
	br := t.ptx.SendBatch(t.ctx, &b)
	defer br.Close()
	for i, check := range checks {
		tag, err := br.Exec()
		if err == nil && check != nil {
			err = check(tag)
		}
		if err != nil {
			t.fail(fmt.Errorf("pgkv: write %d of %d queued before %s: %w", i+1, len(checks), what, err))
			return t.err
		}
	}
	if q != nil {
		rows, err := br.Query()
		if err == nil {
			err = scanAll(rows, scan)
		}
		if err != nil {
			t.fail(fmt.Errorf("pgkv: %s: %w", what, err))
			return t.err
		}
	}
	if err := br.Close(); err != nil {
		t.fail(fmt.Errorf("pgkv: %s: %w", what, err))
	}
	return t.err
}

// scanAll reads rows to the end, calling scan for each.
func scanAll(rows pgx.Rows, scan func(pgx.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	rows.Close()
	return rows.Err()
}

type query struct {
	sql  string
	args []any
}

// finish writes what is still queued (sequence counters, writes) and the
// commit notification, before COMMIT.
func (t *tx) finish() error {
	for _, b := range t.byID {
		if b.seqDirty && !b.deleted {
			t.queue(nil, "UPDATE kv_bucket SET seq = $2 WHERE id = $1", b.id, b.seq)
			b.seqDirty = false
		}
	}
	if t.dirty {
		t.queue(nil, "SELECT pg_notify($1, '')", NotifyChannel)
	}
	return t.flush("commit", nil, nil)
}

func (t *tx) Writable() bool { return t.writable }

func (t *tx) Bucket(name []byte) kv.Bucket {
	if b := t.root.bucket(name); b != nil {
		return b
	}
	return nil
}

func (t *tx) CreateBucket(name []byte) (kv.Bucket, error) {
	b, err := t.root.createBucket(name, false)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (t *tx) CreateBucketIfNotExists(name []byte) (kv.Bucket, error) {
	b, err := t.root.createBucket(name, true)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (t *tx) DeleteBucket(name []byte) error { return t.root.DeleteBucket(name) }
