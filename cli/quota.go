package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"mailsrv/server/admin"
)

// Quota returns `mailsrv quota set|show` (SPEC §4).
func Quota(g *Globals) *cobra.Command {
	c := &cobra.Command{Use: "quota", Short: "Storage quotas of users and shared mailboxes"}
	var messages int64
	set := &cobra.Command{
		Use:   "set ADDRESS SIZE",
		Short: "Set the storage quota of a user or shared mailbox: SIZE like 500MB, 2GiB, or 0 for unlimited (replaces [limits] quota_bytes for it)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := admin.ParseSize(args[1]); err != nil {
				return usageError("%v", err)
			}
			return g.simple(cmd, "quota.set", admin.QuotaArgs{Address: args[0], Size: args[1], Messages: messages})
		},
	}
	set.Flags().Int64Var(&messages, "messages", 0, "also limit the number of messages (0 = unlimited)")
	c.AddCommand(set)

	var asJSON bool
	show := &cobra.Command{
		Use: "show ADDRESS", Short: "Show the usage and quota of a user or shared mailbox", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return listCmd(g, cmd, asJSON, "quota.show", admin.QuotaArgs{Address: args[0]}, func(w io.Writer, q admin.QuotaInfo) {
				src := "own"
				if q.Default {
					src = "default ([limits] quota_bytes)"
				}
				fmt.Fprintf(w, "address:   %s\nstorage:   %d bytes used of %s, %s\nmessages:  %d", q.Address, q.Bytes,
					admin.FormatSize(q.LimitBytes), src, q.Messages)
				if q.LimitMessages > 0 {
					fmt.Fprintf(w, " of %d", q.LimitMessages)
				}
				fmt.Fprintln(w)
			})
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.AddCommand(show)
	return c
}
