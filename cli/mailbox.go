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
	var backupJSON bool
	backup := &cobra.Command{
		Use:   "backup SRC --to DST",
		Short: `Copy every folder of SRC into DST under "Backup/<SRC>/" (flags and dates kept; re-running adds only new mail)`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res admin.BackupInfo
			p := newProgress(cmd, backupJSON)
			err := g.callProgress(cmd, "mailbox.backup", admin.MailboxArgs{Source: args[0], To: to}, &res, p.report())
			p.end()
			if err != nil {
				return err
			}
			if backupJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.Message)
			return nil
		},
	}
	backup.Flags().StringVar(&to, "to", "", "destination mailbox address (user or shared)")
	backup.Flags().BoolVar(&backupJSON, "json", false, "print JSON")
	backup.MarkFlagRequired("to")
	c.AddCommand(backup)

	var user string
	var keepRights, reassignJSON bool
	reassign := &cobra.Command{
		Use: "reassign ADDR --to USER [--keep-rights]",
		Short: "USER takes over ADDR with its history: a user's mailbox becomes USER's (ADDR stays as USER's alias, " +
			"USER's previous mail goes to the recycle bin); a shared mailbox gets USER as owner. " +
			"Rights on shared mailboxes and admin roles are listed and removed unless --keep-rights passes them on (audited either way)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res admin.ReassignInfo
			if err := g.call(cmd, "mailbox.reassign", admin.MailboxArgs{Address: args[0], To: user, KeepRights: keepRights}, &res); err != nil {
				return err
			}
			if reassignJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.Message)
			return nil
		},
	}
	reassign.Flags().StringVar(&user, "to", "", "the user who takes over")
	reassign.Flags().BoolVar(&keepRights, "keep-rights", false, "pass ADDR's shared-mailbox rights and admin roles on to USER (audited)")
	reassign.Flags().BoolVar(&reassignJSON, "json", false, "print JSON")
	reassign.MarkFlagRequired("to")
	c.AddCommand(reassign)
	return c
}
