package admin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

type backupArgs struct {
	Out string `json:"out"` // absolute path; the CLI resolves it
}

// BackupResult reports a written snapshot.
type BackupResult struct {
	Out     string `json:"out"`
	DBBytes int64  `json:"db_bytes"`
	Blobs   int    `json:"blobs"`
	Bytes   int64  `json:"bytes"`
}

// backupOps: `mailsrv backup --out FILE` writes a consistent online
// snapshot (tar of the database and referenced bodies). It is written to a
// temporary file, fsynced and renamed, so FILE is never half-written.
func (h *Handler) backupOps() map[string]OpFunc {
	return map[string]OpFunc{
		"backup": op(func(ctx context.Context, a backupArgs) (any, error) {
			if !filepath.IsAbs(a.Out) {
				return nil, fmt.Errorf("backup: --out must be an absolute path, got %q", a.Out)
			}
			tmp, err := os.CreateTemp(filepath.Dir(a.Out), ".mailsrv-backup-*")
			if err != nil {
				return nil, fmt.Errorf("backup: %w", err)
			}
			defer os.Remove(tmp.Name())
			st, err := h.Store.Snapshot(tmp)
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Rename(tmp.Name(), a.Out)
			}
			if err != nil {
				return nil, fmt.Errorf("backup: %w", err)
			}
			return BackupResult{Out: a.Out, DBBytes: st.DBBytes, Blobs: st.Blobs, Bytes: st.Bytes}, nil
		}),
	}
}
