package admin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"mailsrv/store"
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
	Files   int    `json:"files"`
	// Included and NotIncluded say what a restore gets back and what must
	// be kept some other way.
	Included    []string `json:"included"`
	NotIncluded []string `json:"not_included"`
}

// backupDirs are the data directory's own TLS material: the self-signed
// certificate (tls/) and the ACME account and certificates (acme/).
var backupDirs = []string{"tls", "acme"}

// backupOps: `mailsrv backup --out FILE` writes a consistent online
// snapshot (tar of the database, referenced bodies and TLS material; see
// store.SnapshotWith). It is written to a temporary file, fsynced and
// renamed, so FILE is never half-written.
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
			prog := progressOf(ctx)
			st, err := h.Store.SnapshotWith(ctx, tmp, store.SnapshotOptions{ExtraDirs: backupDirs, Progress: func(done, total int) {
				prog("backup", int64(done), int64(total), "message bodies")
			}})
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
			res := BackupResult{Out: a.Out, DBBytes: st.DBBytes, Blobs: st.Blobs, Bytes: st.Bytes, Files: st.Files,
				Included: []string{"users, passwords, domains and their DKIM keys, aliases, shared mailboxes, rights, audit logs, recycle bin, outbound queue (the database)",
					"message bodies", "the data directory's TLS certificate and ACME account (tls/, acme/)"},
				NotIncluded: []string{"the config file (keep a copy of it)"}}
			if c := h.config(); c.TLS.Mode == "files" {
				res.NotIncluded = append(res.NotIncluded, fmt.Sprintf("the TLS files of tls.mode = \"files\" (%s, %s)", c.TLS.CertFile, c.TLS.KeyFile))
			}
			return res, nil
		}),
	}
}
