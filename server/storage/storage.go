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

	"mailsrv/server/config"
	"mailsrv/store"
)

// Open opens the store cfg configures; its Close releases the engine.
// opts.QuotaBytes defaults to [limits] quota_bytes. A configuration that
// cannot be opened is a one-sentence error that names the key to change.
func Open(ctx context.Context, cfg *config.Config, opts store.Options) (*store.Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.QuotaBytes == 0 {
		opts.QuotaBytes = cfg.Limits.QuotaBytes
	}
	switch cfg.Blobs.Backend {
	case "", "files":
	case "s3":
		return nil, errors.New(`blobs.backend "s3" is not available in this build yet: use backend = "files"`)
	default:
		return nil, fmt.Errorf("blobs.backend %q is not one of files, s3", cfg.Blobs.Backend)
	}
	switch cfg.Store.Backend {
	case "", "bbolt":
		return store.Open(cfg.DataDir, opts)
	case "postgres":
		return nil, errors.New(`store.backend "postgres" is not available in this build yet: use backend = "bbolt"`)
	}
	return nil, fmt.Errorf("store.backend %q is not one of bbolt, postgres", cfg.Store.Backend)
}
