package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mailsrv/auth/acl"
	"mailsrv/server/admin"
)

// usageError marks bad input that is the caller's mistake (exit 2).
func usageError(format string, a ...any) error { return fmt.Errorf(format, a...) }

// checkDuration validates a --since / --older-than value locally so a typo
// is a usage error (exit 2) before anything runs.
func checkDuration(flag, v string) error {
	if v == "" {
		return nil
	}
	if _, err := admin.ParseDuration(v); err != nil {
		return usageError("--%s: %v", flag, err)
	}
	return nil
}

// Shared returns `mailsrv shared …`.
func Shared(g *Globals) *cobra.Command {
	c := &cobra.Command{Use: "shared", Short: "Manage shared mailboxes (info@, sales@, …)"}

	var name, owner string
	var stdin, fromUser bool
	var seen string
	create := &cobra.Command{
		Use:   "create ADDRESS",
		Short: "Create a shared mailbox, or convert a user into one with --from-user (keeps its mail)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw := ""
			if stdin {
				var err error
				if pw, err = readPassword(cmd.InOrStdin()); err != nil {
					return failed(err)
				}
			}
			return g.simple(cmd, "shared.create", admin.SharedArgs{Address: args[0], Name: name, Owner: owner,
				Password: pw, FromUser: fromUser, Seen: seen})
		},
	}
	create.Flags().StringVar(&name, "name", "", "display name")
	create.Flags().StringVar(&owner, "owner", "", "owning user (has every right, administers the mailbox)")
	create.Flags().BoolVar(&stdin, "password-stdin", false, "give the mailbox its own login password, read from standard input")
	create.Flags().StringVar(&seen, "seen", "shared", "shared: one \\Seen for the team; per-member: each member has their own \\Seen and unread counts")
	create.Flags().BoolVar(&fromUser, "from-user", false, "convert the existing user ADDRESS into a shared mailbox, keeping its mail (its login stops unless --password-stdin)")
	c.AddCommand(create)

	var rights string
	grant := &cobra.Command{
		Use: "grant ADDRESS MEMBER", Short: "Give MEMBER rights on a shared mailbox (replaces earlier rights)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := acl.Parse(rights); err != nil {
				return usageError("--rights: %s", strings.TrimPrefix(err.Error(), "acl: "))
			}
			return g.simple(cmd, "shared.grant", admin.SharedArgs{Address: args[0], Member: args[1], Rights: rights})
		},
	}
	grant.Flags().StringVar(&rights, "rights", "", "comma-separated: read,manage,send,send-on-behalf")
	grant.MarkFlagRequired("rights")
	c.AddCommand(grant)

	c.AddCommand(&cobra.Command{
		Use: "revoke ADDRESS MEMBER", Short: "Remove MEMBER from a shared mailbox (not the owner)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.simple(cmd, "shared.revoke", admin.SharedArgs{Address: args[0], Member: args[1]})
		},
	})

	var listJSON bool
	list := &cobra.Command{
		Use: "list", Short: "List shared mailboxes", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return listCmd(g, cmd, listJSON, "shared.list", nil, func(w io.Writer, ms []admin.SharedInfo) {
				tw := table(w)
				fmt.Fprintln(tw, "ADDRESS\tNAME\tOWNER\tMEMBERS\tMESSAGES\tBYTES\tPASSWORD")
				for _, m := range ms {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", m.Address, m.Name, m.Owner, len(m.Members), m.Messages, m.Bytes, yesNo(m.HasPassword))
				}
				tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON")
	c.AddCommand(list)

	var showJSON bool
	show := &cobra.Command{
		Use: "show ADDRESS", Short: "Show a shared mailbox with its members and rights", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return listCmd(g, cmd, showJSON, "shared.show", admin.SharedArgs{Address: args[0]}, func(w io.Writer, m admin.SharedInfo) {
				fmt.Fprintf(w, "address:   %s\nname:      %s\nowner:     %s\nmessages:  %d\nbytes:     %d\npassword:  %s\nseen:      %s\n",
					m.Address, m.Name, m.Owner, m.Messages, m.Bytes, yesNo(m.HasPassword), m.Seen)
				if len(m.Members) == 0 {
					fmt.Fprintln(w, "members:   (none)")
					return
				}
				fmt.Fprintln(w, "members:")
				tw := table(w)
				for _, mem := range m.Members {
					fmt.Fprintf(tw, "  %s\t%s\n", mem.Member, mem.Rights)
				}
				tw.Flush()
			})
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print JSON")
	c.AddCommand(show)

	var newName string
	rename := &cobra.Command{
		Use: "rename OLD [NEW]", Short: "Change a shared mailbox's address and/or --name (OLD keeps receiving mail as an alias)",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			newAddr := ""
			if len(args) == 2 {
				newAddr = args[1]
			}
			if newAddr == "" && newName == "" {
				return usageError("give a new address or --name")
			}
			return g.simple(cmd, "shared.rename", admin.SharedArgs{Address: args[0], NewAddr: newAddr, Name: newName})
		},
	}
	rename.Flags().StringVar(&newName, "name", "", "new display name")
	c.AddCommand(rename)

	c.AddCommand(&cobra.Command{
		Use: "remove ADDRESS", Short: "Remove a shared mailbox (its mail goes to the recycle bin)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.simple(cmd, "shared.remove", admin.SharedArgs{Address: args[0]})
		},
	})

	var since string
	var auditJSON bool
	audit := &cobra.Command{
		Use: "audit ADDRESS", Short: "Show the audit log (grants, send-as, expunge/move/flags by members)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkDuration("since", since); err != nil {
				return err
			}
			return listCmd(g, cmd, auditJSON, "shared.audit", admin.SharedArgs{Address: args[0], Since: since}, func(w io.Writer, log []admin.AuditInfo) {
				tw := table(w)
				fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tFOLDER\tUID\tMESSAGE-ID\tDETAIL")
				for _, e := range log {
					uid := ""
					if e.UID != 0 {
						uid = fmt.Sprint(e.UID)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format(time.DateTime), e.Actor, e.Action, e.Folder, uid, e.MessageID, e.Detail)
				}
				tw.Flush()
			})
		},
	}
	audit.Flags().StringVar(&since, "since", "", "only entries newer than this (e.g. 7d, 12h)")
	audit.Flags().BoolVar(&auditJSON, "json", false, "print JSON")
	c.AddCommand(audit)
	addTeamCommands(g, c)
	return c
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
