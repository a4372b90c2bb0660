package cli

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"mailsrv/server/admin"
)

func parseID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, usageError("recycle bin ID must be a positive number, got %q (see `mailsrv trash list`)", s)
	}
	return id, nil
}

// Trash returns `mailsrv trash …`.
func Trash(g *Globals) *cobra.Command {
	c := &cobra.Command{Use: "trash", Short: "The recycle bin of removed users and mailboxes"}
	var asJSON bool
	list := &cobra.Command{
		Use: "list", Short: "List the recycle bin", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return listCmd(g, cmd, asJSON, "trash.list", nil, func(w io.Writer, items []admin.TrashInfo) {
				tw := table(w)
				fmt.Fprintln(tw, "ID\tKIND\tADDRESS\tDELETED\tPURGED AFTER\tMESSAGES\tBYTES\tNOTE")
				for _, it := range items {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", it.ID, it.Kind, it.Address,
						it.DeletedAt.Local().Format(time.DateTime), it.PurgeAfter.Local().Format(time.DateOnly), it.Messages, it.Bytes, it.Note)
				}
				tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.AddCommand(list)

	c.AddCommand(&cobra.Command{
		Use: "restore ID", Short: "Restore a recycle bin item: a removed user or shared mailbox returns at its address (which must be free again) " +
			"with its mail and memberships; a reassign's previous mail goes back into that user's mailbox under Restored/", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			return g.simple(cmd, "trash.restore", admin.TrashArgs{ID: id})
		},
	})

	var olderThan string
	purge := &cobra.Command{
		Use: "purge [ID]",
		Short: "Delete for good, now: item ID, or every item deleted longer ago than --older-than " +
			"(default retention.recycle_bin_days, which serve also applies hourly; --older-than 0 empties the bin)",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkDuration("older-than", olderThan); err != nil {
				return err
			}
			req := admin.TrashArgs{OlderThan: olderThan}
			if len(args) == 1 {
				if olderThan != "" {
					return usageError("give an ID or --older-than, not both")
				}
				id, err := parseID(args[0])
				if err != nil {
					return err
				}
				req.ID = id
			}
			return g.simple(cmd, "trash.purge", req)
		},
	}
	purge.Flags().StringVar(&olderThan, "older-than", "", "time since deletion, e.g. 30d, 12h or 0 (everything)")
	c.AddCommand(purge)
	return c
}
