package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"mailsrv/server/admin"
)

// Backup returns `mailsrv backup --out FILE`.
func Backup(g *Globals) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "backup --out FILE",
		Short: "Write a consistent online snapshot of the database and message bodies (tar)",
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
			if err := g.call(cmd, "backup", map[string]string{"out": abs}, &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: database %d bytes, %d message bodies (%d bytes); restore by extracting it into an empty data directory\n",
				res.Out, res.DBBytes, res.Blobs, res.Bytes)
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "file to write")
	return c
}
