package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"mailsrv/server/admin"
)

// Admin returns `mailsrv admin grant|revoke|list` (SPEC §4): the admin
// roles postmaster, users and shared-mailboxes.
func Admin(g *Globals) *cobra.Command {
	c := &cobra.Command{Use: "admin", Short: "Manage admin roles (postmaster, users, shared-mailboxes)"}
	c.AddCommand(&cobra.Command{
		Use:   "grant ADDR ROLE",
		Short: "Give user ADDR an admin role: postmaster (everything, receives postmaster@/abuse@), users, shared-mailboxes",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.simple(cmd, "admin.grant", admin.RoleArgs{Address: args[0], Role: args[1]})
		},
	})
	c.AddCommand(&cobra.Command{
		Use:   "revoke ADDR [ROLE]",
		Short: "Take an admin role (without ROLE: every role) from ADDR",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a := admin.RoleArgs{Address: args[0]}
			if len(args) == 2 {
				a.Role = args[1]
			}
			return g.simple(cmd, "admin.revoke", a)
		},
	})
	var asJSON bool
	list := &cobra.Command{
		Use: "list", Short: "List who holds which admin role", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return listCmd(g, cmd, asJSON, "admin.list", nil, func(w io.Writer, rs []admin.RoleInfo) {
				if len(rs) == 0 {
					fmt.Fprintln(w, "no admin roles granted (grant one with `mailsrv admin grant ADDR postmaster`)")
					return
				}
				tw := table(w)
				fmt.Fprintln(tw, "ADDRESS\tROLE\tGRANTED")
				for _, r := range rs {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Address, r.Role, r.Granted.Format("2006-01-02 15:04"))
				}
				tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.AddCommand(list)
	return c
}
