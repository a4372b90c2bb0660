package store

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"mailsrv/store/kv"
)

// RestoreStats describes a finished restore.
type RestoreStats struct {
	Dir      string   `json:"dir"`
	DBBytes  int64    `json:"db_bytes"`
	Blobs    int      `json:"blobs"`
	Bytes    int64    `json:"bytes"`
	Files    int      `json:"files"`
	Includes []string `json:"includes,omitempty"`
	Legacy   bool     `json:"legacy,omitempty"` // an archive from before the manifest (no completeness proof)
}

// ErrNotEmpty means a restore target already holds something.
var ErrNotEmpty = errors.New("data directory is not empty")

// Restore unpacks a backup archive (SnapshotWith) from r into dir, which
// must not exist or be empty; no server may run on it (a running one
// keeps its database there, so it is never empty). Everything is
// unpacked into a sibling temporary directory and checked (manifest
// first, trailer last, database opens, every referenced body present)
// before it is moved into place: a truncated or foreign file fails with
// an error and leaves dir as it was. progress, if set, gets each body.
func Restore(r io.Reader, dir string, progress func(blobs int, bytes int64)) (RestoreStats, error) {
	st := RestoreStats{Dir: dir}
	if err := checkEmptyDir(dir); err != nil {
		return st, err
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return st, fmt.Errorf("restore: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".mailsrv-restore-*")
	if err != nil {
		return st, fmt.Errorf("restore: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := unpack(r, tmp, &st, progress); err != nil {
		return st, err
	}
	if err := checkRestored(tmp); err != nil {
		return st, err
	}
	// dir is empty or absent: replace it by the checked copy.
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return st, fmt.Errorf("restore: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return st, fmt.Errorf("restore: %w", err)
	}
	ok = true
	return st, nil
}

func checkEmptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("%w: %s holds %s; restore only into an empty or new directory (move it aside, or pass another --data)",
			ErrNotEmpty, dir, ents[0].Name())
	}
	return nil
}

// notBackup is the one sentence for a file that is not a mailsrv backup.
func notBackup(why string) error {
	return fmt.Errorf("not a complete mailsrv backup (%s); nothing was restored", why)
}

// unpack writes the archive's entries under dir, checking names and order.
func unpack(r io.Reader, dir string, st *RestoreStats, progress func(int, int64)) error {
	tr := tar.NewReader(r)
	first, sawDB, sawTrailer := true, false, false
	var trailer Trailer
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if first {
				return notBackup("it is not a tar archive: " + err.Error())
			}
			return notBackup("the archive is truncated or damaged: " + err.Error())
		}
		if sawTrailer {
			return notBackup("data after " + TrailerName)
		}
		name := path.Clean(h.Name)
		if h.Typeflag == tar.TypeDir {
			continue
		}
		if h.Typeflag != tar.TypeReg || !allowedEntry(name) {
			return notBackup(fmt.Sprintf("unexpected entry %q", h.Name))
		}
		switch {
		case first && name == ManifestName:
			var m Manifest
			if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&m); err != nil {
				return notBackup("unreadable manifest: " + err.Error())
			}
			if m.Format != backupFormat {
				return fmt.Errorf("backup format %d is not supported by this mailsrv (it reads format %d): restore with the mailsrv that wrote it", m.Format, backupFormat)
			}
			if m.Schema > SchemaVersion {
				return fmt.Errorf("the backup's database schema %d is newer than this mailsrv (%d): upgrade mailsrv", m.Schema, SchemaVersion)
			}
			st.Includes = m.Includes
			first = false
			continue
		case first && name == DBFile:
			st.Legacy = true // written before manifests existed
		case first:
			return notBackup(fmt.Sprintf("it starts with %q, not %s", h.Name, ManifestName))
		case name == TrailerName:
			if err := json.NewDecoder(io.LimitReader(tr, 1<<20)).Decode(&trailer); err != nil {
				return notBackup("unreadable trailer: " + err.Error())
			}
			sawTrailer = true
			continue
		case name == ManifestName:
			return notBackup("a second manifest")
		}
		first = false
		n, err := writeEntry(tr, filepath.Join(dir, filepath.FromSlash(name)), h)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return notBackup(fmt.Sprintf("the archive is truncated inside %s", h.Name))
			}
			return fmt.Errorf("restore %s: %w", h.Name, err)
		}
		switch {
		case name == DBFile:
			sawDB, st.DBBytes = true, n
		case strings.HasPrefix(name, "blobs/"):
			st.Blobs++
			st.Bytes += n
			if progress != nil {
				progress(st.Blobs, st.Bytes)
			}
		default:
			st.Files++
		}
	}
	switch {
	case first:
		return notBackup("the file is empty")
	case !sawDB:
		return notBackup("it holds no " + DBFile)
	case !st.Legacy && !sawTrailer:
		return notBackup("the archive is truncated: " + TrailerName + " is missing")
	case sawTrailer && (trailer.Blobs != st.Blobs || trailer.Files != st.Files):
		return notBackup(fmt.Sprintf("the trailer counts %d bodies and %d files, the archive holds %d and %d", trailer.Blobs, trailer.Files, st.Blobs, st.Files))
	}
	return nil
}

// allowedEntry accepts the names a backup may hold: relative, inside the
// data directory, nothing that a running server creates for itself.
func allowedEntry(name string) bool {
	if name == "." || strings.HasPrefix(name, "../") || name == ".." || path.IsAbs(name) {
		return false
	}
	switch name {
	case ManifestName, TrailerName, DBFile:
		return true
	}
	top, _, nested := strings.Cut(name, "/")
	return nested && (top == "blobs" || top == "tls" || top == "acme")
}

func writeEntry(r io.Reader, p string, h *tar.Header) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if err == nil && n != h.Size {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// checkRestored opens the unpacked database and checks every body it
// references is there.
func checkRestored(dir string) (err error) {
	// bbolt panics on some kinds of page damage; that is a bad backup.
	defer func() {
		if r := recover(); r != nil {
			err = notBackup(fmt.Sprintf("the database is damaged: %v", r))
		}
	}()
	db, err := kv.OpenBolt(filepath.Join(dir, DBFile), kv.BoltOptions{ReadOnly: true})
	if err != nil {
		return notBackup("the database does not open: " + err.Error())
	}
	defer db.Close()
	return db.View(context.Background(), func(tx kv.Tx) error {
		if tx.Bucket([]byte("meta")) == nil || tx.Bucket([]byte("blobrefs")) == nil {
			return notBackup("the database is not a mailsrv database")
		}
		missing, n := "", 0
		tx.Bucket([]byte("blobrefs")).ForEach(func(k, _ []byte) error {
			id := string(k)
			if len(id) < 2 || isInline(tx, k) { // inline: in the database (blob_inline.go)
				return nil
			}
			if _, err := os.Stat(filepath.Join(dir, "blobs", id[len(id)-2:], id)); err != nil {
				n++
				missing = id
			}
			return nil
		})
		if n > 0 {
			return notBackup(fmt.Sprintf("%d message bodies are missing, e.g. %s", n, missing))
		}
		return nil
	})
}
