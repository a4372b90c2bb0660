package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"mailsrv/server/admin"
	"mailsrv/store"
)

// Spam returns `mailsrv spam …`: the junk filter state of a mailbox.
func Spam(g *Globals) *cobra.Command {
	c := &cobra.Command{Use: "spam", Short: "Show or reset the junk filter of a user or shared mailbox"}

	var showJSON bool
	show := &cobra.Command{
		Use: "show ADDRESS", Short: "Show what the mailbox's junk filter learnt (messages trained, spam/ham counts)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return listCmd(g, cmd, showJSON, "spam.show", admin.SpamArgs{Address: args[0]}, func(w io.Writer, s admin.SpamInfo) {
				state := fmt.Sprintf("learning (decides once it holds %d spam and %d ham)", store.SpamMinTrained, store.SpamMinTrained)
				switch {
				case !s.Enabled:
					state = "off ([spam] junk_filter = false)"
				case s.Ready:
					state = "active"
				}
				tw := table(w)
				fmt.Fprintf(tw, "mailbox:\t%s (%s)\n", s.Address, s.Kind)
				fmt.Fprintf(tw, "junk filter:\t%s\n", state)
				fmt.Fprintf(tw, "spam:\t%d messages\n", s.Spam)
				fmt.Fprintf(tw, "ham:\t%d messages\n", s.Ham)
				fmt.Fprintf(tw, "trained:\t%d times\n", s.Trained)
				fmt.Fprintf(tw, "tokens:\t%d\n", s.Tokens)
				fmt.Fprintf(tw, "known senders:\t%d\n", s.Known)
				if !s.Updated.IsZero() {
					fmt.Fprintf(tw, "last trained:\t%s\n", s.Updated.Format("2006-01-02 15:04:05 MST"))
				}
				tw.Flush()
			})
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print JSON")
	c.AddCommand(show)

	var resetJSON bool
	reset := &cobra.Command{
		Use: "reset ADDRESS", Short: "Forget everything the mailbox's junk filter learnt", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return listCmd(g, cmd, resetJSON, "spam.reset", admin.SpamArgs{Address: args[0]}, func(w io.Writer, d admin.Done) {
				fmt.Fprintln(w, d.Message)
			})
		},
	}
	reset.Flags().BoolVar(&resetJSON, "json", false, "print JSON")
	c.AddCommand(reset)
	return c
}
