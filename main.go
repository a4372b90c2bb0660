// Command mailsrv is a self-hosted mail server: MX intake, submission,
// IMAP with shared mailboxes, and a DNS helper, in one binary. This file
// only wires the cobra root to the subcommands in package cli.
package main

import (
	"os"

	"github.com/spf13/cobra"

	"mailsrv/cli"
)

func main() {
	os.Exit(cli.Execute(newRoot()))
}

// newRoot builds the command tree (tests run it in-process).
func newRoot() *cobra.Command {
	g := &cli.Globals{}
	root := &cobra.Command{
		Use:   "mailsrv",
		Short: "Self-hosted mail server with shared mailboxes",
	}
	root.PersistentFlags().StringVar(&g.ConfigFile, "config", "", "config file (default: embedded defaults)")
	root.PersistentFlags().StringVar(&g.DataDir, "data", "", "data directory (overrides data_dir)")
	root.AddCommand(
		cli.Serve(g),
		cli.Domain(g),
		cli.User(g),
		cli.Alias(g),
		cli.Shared(g),
		cli.Mailbox(g),
		cli.Trash(g),
		cli.Queue(g),
		cli.Backup(g),
		cli.Restore(g),
		cli.Admin(g),
		cli.Spam(g),
		cli.Vacation(g),
		cli.Quota(g),
		cli.Migrate(g),
	)
	return root
}
