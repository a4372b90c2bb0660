package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mailsrv/server/admin"
)

// Queue returns `mailsrv queue …`.
func Queue(g *Globals) *cobra.Command {
	c := &cobra.Command{Use: "queue", Short: "Inspect and manage the outbound queue"}
	var asJSON bool
	list := &cobra.Command{
		Use: "list", Short: "List queued messages", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return listCmd(g, cmd, asJSON, "queue.list", nil, func(w io.Writer, qs []admin.QueueInfo) {
				tw := table(w)
				fmt.Fprintln(tw, "ID\tFROM\tTO\tSIZE\tATTEMPTS\tNEXT\tLAST ERROR")
				for _, q := range qs {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\t%s\n", q.ID, q.From, strings.Join(q.To, ","), q.Size,
						q.Attempts, q.NextAttempt.Local().Format(time.DateTime), q.LastError)
				}
				tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.AddCommand(list)
	for _, verb := range []struct{ use, short string }{
		{"retry", "Retry a queued message now"},
		{"drop", "Drop a queued message without a bounce"},
	} {
		opName := "queue." + verb.use
		c.AddCommand(&cobra.Command{
			Use: verb.use + " ID", Short: verb.short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := strconv.ParseUint(args[0], 10, 64)
				if err != nil {
					return fmt.Errorf("queue ID must be a number, got %q", args[0])
				}
				return g.simple(cmd, opName, admin.QueueArgs{ID: id})
			},
		})
	}
	return c
}
