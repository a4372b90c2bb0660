package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"mailsrv/server/admin"
)

// Mailbox returns `mailsrv mailbox …`.
func Mailbox(g *Globals) *cobra.Command {
	c := &cobra.Command{Use: "mailbox", Short: "Back up or hand over a whole mailbox (personal or shared)"}

	var to string
	backup := &cobra.Command{
		Use:   "backup SRC --to DST",
		Short: `Copy every folder of SRC into DST under "Backup/<SRC>/" (flags and dates kept; re-running adds only new mail)`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res admin.BackupInfo
			if err := g.call(cmd, "mailbox.backup", map[string]string{"source": args[0], "to": to}, &res); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.Message)
			return nil
		},
	}
	backup.Flags().StringVar(&to, "to", "", "destination mailbox address (user or shared)")
	backup.MarkFlagRequired("to")
	c.AddCommand(backup)

	var user string
	reassign := &cobra.Command{
		Use: "reassign ADDR --to USER",
		Short: "USER takes over ADDR with its history: a user's mailbox becomes USER's (ADDR stays as USER's alias, " +
			"USER's previous mail goes to the recycle bin); a shared mailbox gets USER as owner",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.simple(cmd, "mailbox.reassign", map[string]string{"address": args[0], "to": user})
		},
	}
	reassign.Flags().StringVar(&user, "to", "", "the user who takes over")
	reassign.MarkFlagRequired("to")
	c.AddCommand(reassign)
	return c
}
