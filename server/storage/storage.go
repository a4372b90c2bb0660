// Package storage opens the store the configuration names (SPEC §3
// [store] and [blobs], §9): the metadata engine (bbolt in data_dir, or
// PostgreSQL shared by several servers) and the blob store of message
// bodies (files in data_dir, or an S3-compatible bucket). serve, the CLI's
// offline paths and `mailsrv migrate` all open it here, so they agree on
// what a configuration means.
package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"mailsrv/server/config"
	"mailsrv/store"
	"mailsrv/store/kv"
	"mailsrv/store/kv/pgkv"
	"mailsrv/store/s3blobs"
)

// Open opens the store cfg configures; its Close releases the engine.
// opts.QuotaBytes defaults to [limits] quota_bytes. A configuration that
// cannot be opened is a one-sentence error that names the key to change.
func Open(ctx context.Context, cfg *config.Config, opts store.Options) (*store.Store, error) {
	if opts.QuotaBytes == 0 {
		opts.QuotaBytes = cfg.Limits.QuotaBytes
	}
	blobs, err := OpenBlobs(ctx, cfg)
	if err != nil {
		return nil, err
	}
	opts.Blobs = blobs
	opts.InlineBodies = opts.InlineBodies || cfg.Blobs.InlineSmallBodies
	if cfg.Store.Backend == "" || cfg.Store.Backend == "bbolt" {
		return store.Open(cfg.DataDir, opts)
	}
	db, err := OpenEngine(ctx, cfg)
	if err != nil {
		return nil, err
	}
	opts.CloseEngine = true
	st, err := store.OpenEngine(db, cfg.DataDir, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	return st, nil
}

// OpenEngine opens the metadata engine cfg configures, without a store on
// it (`mailsrv migrate` fills an empty one). The caller closes it.
func OpenEngine(ctx context.Context, cfg *config.Config) (kv.DB, error) {
	switch cfg.Store.Backend {
	case "", "bbolt":
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		db, err := kv.OpenBolt(filepath.Join(cfg.DataDir, store.DBFile), kv.BoltOptions{})
		if errors.Is(err, kv.ErrLocked) {
			return nil, fmt.Errorf("%s: %w", cfg.DataDir, store.ErrLocked)
		}
		return db, err
	case "postgres":
		if cfg.Store.PostgresURL == "" {
			return nil, errors.New(`store.postgres_url must be set when store.backend is "postgres"`)
		}
		db, err := pgkv.Open(ctx, cfg.Store.PostgresURL)
		if err != nil {
			return nil, fmt.Errorf("store.postgres_url: cannot open the database (%v); check the URL and that PostgreSQL is running", err)
		}
		return db, nil
	}
	return nil, fmt.Errorf("store.backend %q is not one of bbolt, postgres", cfg.Store.Backend)
}

// OpenBlobs opens the blob store cfg configures; nil means the files
// under data_dir/blobs that the store opens itself.
func OpenBlobs(ctx context.Context, cfg *config.Config) (store.BlobStore, error) {
	b := cfg.Blobs
	switch b.Backend {
	case "", "files":
		return nil, nil
	case "s3":
		bs, err := s3blobs.Open(ctx, s3blobs.Config{Endpoint: b.S3Endpoint, Bucket: b.S3Bucket, Region: b.S3Region,
			AccessKey: b.S3AccessKey, SecretKey: b.S3SecretKey, Insecure: b.S3Insecure})
		if err != nil {
			return nil, err
		}
		return bs, nil
	}
	return nil, fmt.Errorf("blobs.backend %q is not one of files, s3", b.Backend)
}
