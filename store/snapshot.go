package store

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"mailsrv/store/kv"
)

// snapshotGuard defers body removals while a snapshot runs, so a
// snapshot never references a body that was deleted under it.
type snapshotGuard struct {
	mu      sync.Mutex
	active  int
	pending []string
}

// ErrNoFileSnapshot is Snapshot's answer on an engine that is not one
// database file (PostgreSQL): its backup is the engine's own (pg_dump).
var ErrNoFileSnapshot = errors.New("this storage engine has no file snapshot: back up the database with its own tools (pg_dump) and the blob store with a bucket copy")

// SnapshotStats describes a written snapshot.
type SnapshotStats struct {
	DBBytes int64 `json:"db_bytes"`
	Blobs   int   `json:"blobs"`
	Bytes   int64 `json:"bytes"`
	// Files counts the extra files (SnapshotOptions.ExtraDirs).
	Files int `json:"files,omitempty"`
}

// SnapshotOptions add to a snapshot.
type SnapshotOptions struct {
	// ExtraDirs are directories of the data directory (relative, e.g.
	// "tls") copied as they are, so a restore can serve again with the
	// same certificate. Missing ones are skipped.
	ExtraDirs []string
	// Progress, if set, is called after each body with the bodies done
	// and their total.
	Progress func(done, total int)
}

// Backup archive layout (a tar stream), in this order:
//
//	mailsrv-backup.json   Manifest (format, schema, what is included)
//	mailsrv.db            the database as of one read transaction
//	blobs/xx/<id>         every body the database references
//	<extra dir>/…         SnapshotOptions.ExtraDirs
//	mailsrv-backup.end    Trailer (counts), proving the archive is complete
const (
	ManifestName = "mailsrv-backup.json"
	TrailerName  = "mailsrv-backup.end"
	backupFormat = 1
)

// Manifest opens a backup archive.
type Manifest struct {
	Format   int       `json:"format"`
	Schema   uint32    `json:"schema"`
	Created  time.Time `json:"created"`
	Includes []string  `json:"includes"`
}

// Trailer closes a backup archive.
type Trailer struct {
	Blobs int `json:"blobs"`
	Files int `json:"files"`
}

// Snapshot writes a consistent online backup as a tar stream (see
// SnapshotWith).
func (s *Store) Snapshot(ctx context.Context, w io.Writer) (SnapshotStats, error) {
	return s.SnapshotWith(ctx, w, SnapshotOptions{})
}

// SnapshotWith writes a consistent online backup as a tar stream: the
// database as of one read transaction, streamed (never held in memory),
// and every body it references. Writes continue meanwhile; their effects
// are simply not in the snapshot. Restore reads it back (restore.go).
func (s *Store) SnapshotWith(ctx context.Context, w io.Writer, o SnapshotOptions) (SnapshotStats, error) {
	s.snap.mu.Lock()
	s.snap.active++
	s.snap.mu.Unlock()
	defer s.endSnapshot()

	var st SnapshotStats
	tw := tar.NewWriter(w)
	man := Manifest{Format: backupFormat, Schema: SchemaVersion, Created: s.now().UTC(),
		Includes: append([]string{DBFile, "blobs"}, o.ExtraDirs...)}
	if err := tarJSON(tw, ManifestName, man, s.now()); err != nil {
		return st, fmt.Errorf("snapshot: %w", err)
	}
	var blobs []string
	// The database copy and the list of referenced blobs come from the same
	// read transaction. The tar goes to a local file, not a network client,
	// so holding the transaction while writing it is acceptable.
	err := s.view(ctx, func(tx kv.Tx) error {
		fsnap, ok := tx.(kv.FileSnapshotter)
		if !ok {
			return ErrNoFileSnapshot
		}
		st.DBBytes = fsnap.Size()
		if err := tw.WriteHeader(&tar.Header{Name: DBFile, Mode: 0o600, Size: st.DBBytes, ModTime: s.now()}); err != nil {
			return err
		}
		if _, err := fsnap.WriteTo(tw); err != nil {
			return err
		}
		return bucket(tx, "blobrefs").ForEach(func(k, _ []byte) error {
			if !isInline(tx, k) { // small bodies are in the database file (blob_inline.go)
				blobs = append(blobs, string(k))
			}
			return nil
		})
	})
	if err != nil {
		return st, fmt.Errorf("snapshot database: %w", err)
	}
	for i, id := range blobs {
		n, err := s.tarBlob(ctx, tw, id)
		if err != nil {
			return st, fmt.Errorf("snapshot body %s: %w", id, err)
		}
		st.Blobs++
		st.Bytes += n
		if o.Progress != nil {
			o.Progress(i+1, len(blobs))
		}
	}
	for _, d := range o.ExtraDirs {
		n, err := s.tarDir(tw, d)
		if err != nil {
			return st, fmt.Errorf("snapshot %s: %w", d, err)
		}
		st.Files += n
	}
	if err := tarJSON(tw, TrailerName, Trailer{Blobs: st.Blobs, Files: st.Files}, s.now()); err != nil {
		return st, fmt.Errorf("snapshot: %w", err)
	}
	return st, tw.Close()
}

func tarJSON(tw *tar.Writer, name string, v any, mtime time.Time) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(raw)), ModTime: mtime}); err != nil {
		return err
	}
	_, err = tw.Write(raw)
	return err
}

// tarDir copies the regular files under data_dir/rel.
func (s *Store) tarDir(tw *tar.Writer, rel string) (int, error) {
	n := 0
	root := filepath.Join(s.dir, rel)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == root {
			return fs.SkipDir
		}
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		name, _ := filepath.Rel(s.dir, p)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(name), Mode: int64(fi.Mode().Perm()), Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
		if _, err := io.Copy(tw, f); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// tarBlob copies one body into the archive as blobs/xx/<id> (the files
// layout, which Restore unpacks), whichever BlobStore holds it.
func (s *Store) tarBlob(ctx context.Context, tw *tar.Writer, id string) (int64, error) {
	info, err := s.blobs.Stat(ctx, id)
	if err != nil {
		return 0, err
	}
	r, err := s.blobs.Open(ctx, id)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	name := path.Join("blobs", id[len(id)-2:], id)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: info.Size, ModTime: info.Time}); err != nil {
		return 0, err
	}
	n, err := io.Copy(tw, r)
	if err == nil && n != info.Size {
		err = fmt.Errorf("body is %d bytes, not %d", n, info.Size)
	}
	return n, err
}

func (s *Store) endSnapshot() {
	s.snap.mu.Lock()
	s.snap.active--
	var run []string
	if s.snap.active == 0 {
		run, s.snap.pending = s.snap.pending, nil
	}
	s.snap.mu.Unlock()
	for _, id := range run {
		s.removeBlobFileNow(id)
	}
}
