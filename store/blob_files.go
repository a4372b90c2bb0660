package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// fileBlobs is the BlobStore of one server's disk: every body is its own
// file, dir/xx/<id>, where xx is the id's last two hex digits (random),
// so that no directory grows past a few thousand entries. A body is
// fsynced in Commit, before any transaction references it, so nothing
// acknowledged can point at a file a crash lost.
type fileBlobs struct {
	dir    string
	noSync bool // benchmark baselines only (Options.NoSync)
}

// NewFileBlobs returns the files BlobStore over dir (created if needed),
// the one a Store uses when Options.Blobs is nil (dir = data_dir/blobs).
func NewFileBlobs(dir string, noSync bool) (BlobStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create blob directory: %w", err)
	}
	return &fileBlobs{dir: dir, noSync: noSync}, nil
}

func (b *fileBlobs) path(id string) string {
	return filepath.Join(b.dir, id[len(id)-2:], id)
}

// Create creates the empty file of blob id. Shard directories are made on
// first use only: a MkdirAll per message is a measurable cost.
func (b *fileBlobs) Create(_ context.Context, id string) (BlobUpload, error) {
	if !validBlobID(id) {
		return nil, fmt.Errorf("bad blob id %q", id)
	}
	p := b.path(id)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	}
	if err != nil {
		return nil, err
	}
	return &fileUpload{f: f, path: p, noSync: b.noSync}, nil
}

func (b *fileBlobs) Open(_ context.Context, id string) (io.ReadCloser, error) {
	f, err := os.Open(b.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("message body %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (b *fileBlobs) Stat(_ context.Context, id string) (BlobInfo, error) {
	fi, err := os.Stat(b.path(id))
	if errors.Is(err, os.ErrNotExist) {
		return BlobInfo{}, fmt.Errorf("message body %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return BlobInfo{}, err
	}
	return BlobInfo{ID: id, Size: fi.Size(), Time: fi.ModTime()}, nil
}

func (b *fileBlobs) Remove(_ context.Context, id string) error {
	if !validBlobID(id) {
		return fmt.Errorf("bad blob id %q", id)
	}
	if err := os.Remove(b.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// List walks the shard directories one at a time.
func (b *fileBlobs) List(ctx context.Context, fn func(BlobInfo) error) error {
	shards, err := os.ReadDir(b.dir)
	if err != nil {
		return err
	}
	for _, sh := range shards {
		if !sh.IsDir() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, err := os.ReadDir(filepath.Join(b.dir, sh.Name()))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			if err := fn(BlobInfo{ID: e.Name(), Size: info.Size(), Time: info.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// fileUpload is one body file being written.
type fileUpload struct {
	f      *os.File // nil once closed
	path   string
	noSync bool
}

func (u *fileUpload) Write(p []byte) (int, error) {
	if u.f == nil {
		return 0, os.ErrClosed
	}
	return u.f.Write(p)
}

// Commit fsyncs and closes the file.
func (u *fileUpload) Commit() error {
	if u.f == nil {
		return os.ErrClosed
	}
	if !u.noSync {
		if err := u.f.Sync(); err != nil {
			return fmt.Errorf("fsync blob: %w", err)
		}
	}
	err := u.f.Close()
	u.f = nil
	return err
}

func (u *fileUpload) Abort() error {
	if u.f != nil {
		u.f.Close()
		u.f = nil
	}
	if err := os.Remove(u.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
