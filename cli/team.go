package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mailsrv/server/admin"
)

// addTeamCommands adds the team inbox commands to `mailsrv shared`
// (SPEC §4): assign, done, queue and set.
func addTeamCommands(g *Globals, c *cobra.Command) {
	var to string
	var none bool
	assign := &cobra.Command{
		Use: "assign ADDRESS MESSAGE-ID", Short: "Assign a message (by its Message-ID) to a member with --to, or unassign it with --none",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (to == "") == !none {
				return usageError("give either --to MEMBER or --none")
			}
			return g.simple(cmd, "shared.assign", admin.TeamArgs{Address: args[0], MessageID: args[1], To: to, None: none})
		},
	}
	assign.Flags().StringVar(&to, "to", "", "the member to assign the message to (must be able to read the mailbox)")
	assign.Flags().BoolVar(&none, "none", false, "remove the assignment")
	c.AddCommand(assign)

	var undo bool
	done := &cobra.Command{
		Use: "done ADDRESS MESSAGE-ID", Short: "Mark a message (by its Message-ID) done ($Done), or open again with --undo",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.simple(cmd, "shared.done", admin.TeamArgs{Address: args[0], MessageID: args[1], Undo: undo})
		},
	}
	done.Flags().BoolVar(&undo, "undo", false, "clear $Done")
	c.AddCommand(done)

	var unassigned, unanswered, queueJSON bool
	var assignedTo string
	queue := &cobra.Command{
		Use: "queue ADDRESS", Short: "List the INBOX oldest first, with age, assignee and state (the team's open work)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if unassigned && assignedTo != "" {
				return usageError("--unassigned and --assigned-to exclude each other: give one")
			}
			a := admin.TeamArgs{Address: args[0], Unassigned: unassigned, AssignedTo: assignedTo, Unanswered: unanswered}
			return listCmd(g, cmd, queueJSON, "shared.queue", a, func(w io.Writer, es []admin.QueueEntry) {
				tw := table(w)
				fmt.Fprintln(tw, "AGE\tASSIGNED TO\tSTATE\tFROM\tSUBJECT\tMESSAGE-ID")
				for _, e := range es {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", age(time.Duration(e.AgeSeconds)*time.Second), dash(e.AssignedTo),
						state(e), e.From, e.Subject, e.MessageID)
				}
				tw.Flush()
			})
		},
	}
	queue.Flags().BoolVar(&unassigned, "unassigned", false, "only messages nobody is assigned to")
	queue.Flags().StringVar(&assignedTo, "assigned-to", "", "only messages assigned to this member")
	queue.Flags().BoolVar(&unanswered, "unanswered", false, "only messages without a reply in the shared Sent, not \\Answered and not $Done")
	queue.Flags().BoolVar(&queueJSON, "json", false, "print JSON")
	c.AddCommand(queue)

	var replyFile, remindAfter, seenSet string
	var noReply, setJSON bool
	set := &cobra.Command{
		Use: "set ADDRESS", Short: "Set a shared mailbox's auto-acknowledgement and reminder digest",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if replyFile != "" && noReply {
				return usageError("--auto-reply-file and --no-auto-reply exclude each other: give one")
			}
			if replyFile == "" && !noReply && remindAfter == "" && seenSet == "" {
				return usageError("nothing to set: give --seen shared|per-member, --auto-reply-file FILE, --no-auto-reply or --remind-after DURATION")
			}
			if seenSet != "" && seenSet != "shared" && seenSet != "per-member" {
				return usageError("--seen %q: want shared or per-member", seenSet)
			}
			if remindAfter != "" && remindAfter != "0" {
				if err := checkDuration("remind-after", remindAfter); err != nil {
					return err
				}
			}
			a := admin.TeamArgs{Address: args[0], NoAutoReply: noReply, RemindAfter: remindAfter, Seen: seenSet}
			if replyFile != "" {
				body, err := readTextFile("auto-reply-file", replyFile)
				if err != nil {
					return err
				}
				a.AutoReply = body
			}
			return listCmd(g, cmd, setJSON, "shared.set", a, printAutoReply)
		},
	}
	set.Flags().StringVar(&replyFile, "auto-reply-file", "", "text file: answer each new sender with it (RFC 3834, once per sender per 7 days)")
	set.Flags().BoolVar(&noReply, "no-auto-reply", false, "stop auto-acknowledging")
	set.Flags().StringVar(&remindAfter, "remind-after", "", "send the members a daily digest of mail waiting longer than this (e.g. 4h; 0 = off)")
	set.Flags().StringVar(&seenSet, "seen", "", "shared or per-member \\Seen (shared → per-member keeps each member's \\Seen; per-member → shared marks \\Seen what any member had read)")
	set.Flags().BoolVar(&setJSON, "json", false, "print JSON")
	c.AddCommand(set)
}

// Vacation returns `mailsrv vacation …`.
func Vacation(g *Globals) *cobra.Command {
	c := &cobra.Command{Use: "vacation", Short: "Automatic vacation notice of a personal mailbox (RFC 3834)"}
	var bodyFile, subject, until string
	var setJSON bool
	set := &cobra.Command{
		Use: "set ADDRESS", Short: "Answer mail to ADDRESS with the text of --body-file (once per sender per 7 days)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := readTextFile("body-file", bodyFile)
			if err != nil {
				return err
			}
			a := admin.TeamArgs{Address: args[0], Body: body, Subject: subject, Until: until}
			return listCmd(g, cmd, setJSON, "vacation.set", a, printAutoReply)
		},
	}
	set.Flags().StringVar(&bodyFile, "body-file", "", "text file with the notice")
	set.Flags().StringVar(&subject, "subject", "", `subject of the notice (default "Auto: " + the original's)`)
	set.Flags().StringVar(&until, "until", "", "stop after this date (2026-12-24 or RFC 3339)")
	set.Flags().BoolVar(&setJSON, "json", false, "print JSON")
	set.MarkFlagRequired("body-file")
	c.AddCommand(set)

	c.AddCommand(&cobra.Command{
		Use: "off ADDRESS", Short: "Stop the vacation notice", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.simple(cmd, "vacation.off", admin.TeamArgs{Address: args[0]})
		},
	})

	var showJSON bool
	show := &cobra.Command{
		Use: "show ADDRESS", Short: "Show the vacation notice", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return listCmd(g, cmd, showJSON, "vacation.show", admin.TeamArgs{Address: args[0]}, printAutoReply)
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print JSON")
	c.AddCommand(show)
	return c
}

func printAutoReply(w io.Writer, i admin.AutoReplyInfo) {
	fmt.Fprintf(w, "address:       %s\n", i.Address)
	switch {
	case !i.Enabled:
		fmt.Fprintln(w, "auto-reply:    off")
	case !i.Active:
		fmt.Fprintln(w, "auto-reply:    expired")
	default:
		fmt.Fprintln(w, "auto-reply:    on")
	}
	if i.Subject != "" {
		fmt.Fprintf(w, "subject:       %s\n", i.Subject)
	}
	if i.Until != nil {
		fmt.Fprintf(w, "until:         %s\n", i.Until.Local().Format(time.DateTime))
	}
	if i.RemindAfter != "" {
		fmt.Fprintf(w, "remind after:  %s\n", i.RemindAfter)
	}
	if i.Seen != "" {
		fmt.Fprintf(w, "seen:          %s\n", i.Seen)
	}
	if i.Body != "" {
		fmt.Fprintf(w, "body:\n%s\n", strings.TrimRight(i.Body, "\n"))
	}
}

// readTextFile reads the text given with --flag; a missing or empty file
// is a usage error.
func readTextFile(flag, path string) (string, error) {
	if path == "" {
		return "", usageError("--%s: a file name is needed", flag)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usageError("--%s: %v", flag, err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", usageError("--%s: %s is empty", flag, path)
	}
	return string(b), nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func state(e admin.QueueEntry) string {
	switch {
	case e.Done:
		return "done"
	case e.Answered:
		return "answered"
	}
	return "open"
}

// age prints a duration as the queue shows it: 3d4h, 5h12m, 7m.
func age(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}
