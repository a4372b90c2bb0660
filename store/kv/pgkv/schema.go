package pgkv

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are applied in order, each once, each in its own transaction
// that records its number in kv_schema. Append; never edit a released one.
var migrations = []string{
	// 1: buckets and entries.
	`CREATE TABLE kv_bucket (
		id  bigint PRIMARY KEY,
		seq bigint NOT NULL DEFAULT 0
	);
	CREATE SEQUENCE kv_bucket_id START 1;
	INSERT INTO kv_bucket (id) VALUES (0);
	CREATE TABLE kv_entry (
		bucket bigint NOT NULL,
		key    bytea  NOT NULL,
		value  bytea,
		child  bigint,
		PRIMARY KEY (bucket, key),
		CHECK ((value IS NULL) <> (child IS NULL))
	);
	CREATE INDEX kv_entry_children ON kv_entry (bucket) INCLUDE (child) WHERE child IS NOT NULL;`,
}

// migrate brings the schema up to date. A session-level advisory lock
// makes servers that start at once take turns; the second finds the work
// done.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgkv: connect: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLock); err != nil {
		return fmt.Errorf("pgkv: wait for the migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLock)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS kv_schema (
		version int PRIMARY KEY,
		applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("pgkv: create kv_schema: %w", err)
	}
	var have int
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM kv_schema").Scan(&have); err != nil {
		return fmt.Errorf("pgkv: read schema version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("pgkv: the database has schema version %d, newer than this mailsrv knows (%d); upgrade mailsrv", have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("pgkv: migration %d: %w", v, err)
		}
		if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
			tx.Rollback(ctx)
			return fmt.Errorf("pgkv: migration %d: %w", v, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO kv_schema (version) VALUES ($1)", v); err != nil {
			tx.Rollback(ctx)
			return fmt.Errorf("pgkv: migration %d: %w", v, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("pgkv: migration %d: %w", v, err)
		}
	}
	return nil
}
