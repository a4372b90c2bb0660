package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"mailsrv/server/admin"
)

// Domain returns `mailsrv domain …`.
func Domain(g *Globals) *cobra.Command {
	c := &cobra.Command{Use: "domain", Short: "Manage local mail domains"}
	c.AddCommand(&cobra.Command{
		Use: "add DOMAIN", Short: "Add a local domain and create its DKIM keys", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.simple(cmd, "domain.add", admin.DomainArgs{Name: args[0]})
		},
	})
	var asJSON bool
	list := &cobra.Command{
		Use: "list", Short: "List local domains", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return listCmd(g, cmd, asJSON, "domain.list", nil, func(w io.Writer, ds []admin.DomainInfo) {
				tw := table(w)
				fmt.Fprintln(tw, "DOMAIN\tDKIM SELECTORS")
				for _, d := range ds {
					fmt.Fprintf(tw, "%s\t%s\n", d.Name, strings.Join(d.Selectors, ","))
				}
				tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.AddCommand(list)
	c.AddCommand(&cobra.Command{
		Use: "remove DOMAIN", Short: "Remove a domain no address uses any more", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.simple(cmd, "domain.remove", admin.DomainArgs{Name: args[0]})
		},
	})
	c.AddCommand(domainRecords(g), domainVerify(g))
	return c
}
