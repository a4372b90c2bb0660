package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"mailsrv/server/admin"
	"mailsrv/store"
)

// Backup returns `mailsrv backup --out FILE`.
func Backup(g *Globals) *cobra.Command {
	var out string
	var asJSON bool
	c := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Write a consistent online snapshot of the database, message bodies and TLS material (restore with `mailsrv restore`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("--out FILE is required")
			}
			abs, err := filepath.Abs(out)
			if err != nil {
				return failed(err)
			}
			var res admin.BackupResult
			p := newProgress(cmd, asJSON)
			err = g.callProgress(cmd, "backup", admin.BackupArgs{Out: abs}, &res, p.report())
			p.end()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: database %d bytes, %d message bodies (%d bytes), %d TLS files\n",
				res.Out, res.DBBytes, res.Blobs, res.Bytes, res.Files)
			fmt.Fprintf(cmd.OutOrStdout(), "not included: %s\nrestore with `mailsrv restore --from %s` into an empty data directory, server stopped\n",
				strings.Join(res.NotIncluded, "; "), res.Out)
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "file to write")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// Restore returns `mailsrv restore --from FILE` (SPEC §4): it runs with
// the server stopped, into an empty data directory, so it is no admin
// request: it unpacks the file itself.
func Restore(g *Globals) *cobra.Command {
	var from string
	var asJSON bool
	c := &cobra.Command{
		Use:   "restore --from FILE",
		Short: "Restore a `mailsrv backup` file into an empty data directory (server stopped)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return fmt.Errorf("--from FILE is required")
			}
			cfg, err := g.LoadConfig()
			if err != nil {
				return failed(err)
			}
			f, err := os.Open(from)
			if err != nil {
				return failed(fmt.Errorf("restore: %w", err))
			}
			defer f.Close()
			p := newProgress(cmd, asJSON)
			var report func(int, int64)
			if fn := p.report(); fn != nil {
				report = func(n int, _ int64) { fn(admin.Progress{Op: "restore", Done: int64(n), Unit: "message bodies"}) }
			}
			st, err := store.Restore(f, cfg.DataDir, report)
			p.end()
			if errors.Is(err, store.ErrNotEmpty) {
				return failed(fmt.Errorf("refusing to restore: %s is not empty; restore only into a new or empty data directory (stop the server and move the old one aside, or pass another --data)", cfg.DataDir))
			}
			if err != nil {
				return failed(fmt.Errorf("restore from %s: %w", from, err))
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), st)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %s into %s: database %d bytes, %d message bodies (%d bytes), %d TLS files; start it with `mailsrv serve`\n",
				from, st.Dir, st.DBBytes, st.Blobs, st.Bytes, st.Files)
			if st.Legacy {
				fmt.Fprintln(cmd.OutOrStdout(), "note: this backup predates completeness markers; every referenced message body was found")
			}
			return nil
		},
	}
	c.Flags().StringVar(&from, "from", "", "backup file to restore")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
