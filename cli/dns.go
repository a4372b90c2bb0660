package cli

import (
	"github.com/spf13/cobra"

	"mailsrv/dns"
	"mailsrv/server/admin"
)

func domainRecords(g *Globals) *cobra.Command {
	var ips []string
	var asJSON bool
	c := &cobra.Command{
		Use: "records DOMAIN", Short: "Print the DNS records to publish for DOMAIN (zone-file syntax)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var recs []dns.Record
			if err := g.call(cmd, "domain.records", admin.DNSArgs{Name: args[0], IPs: ips}, &recs); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), recs)
			}
			return dns.FormatZone(cmd.OutOrStdout(), recs)
		},
	}
	c.Flags().StringSliceVar(&ips, "ip", nil, "public IP address(es) of this server")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func domainVerify(g *Globals) *cobra.Command {
	var ips []string
	var resolver string
	var asJSON bool
	c := &cobra.Command{
		Use: "verify DOMAIN", Short: "Check DOMAIN's published DNS records (exit 1 if any check FAILs)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep dns.Report
			if err := g.call(cmd, "domain.verify", admin.DNSArgs{Name: args[0], IPs: ips, Resolver: resolver}, &rep); err != nil {
				return err
			}
			if asJSON {
				if err := printJSON(cmd.OutOrStdout(), rep); err != nil {
					return err
				}
			} else if err := dns.FormatReport(cmd.OutOrStdout(), rep); err != nil {
				return err
			}
			if !rep.OK() {
				return checkFailed
			}
			return nil
		},
	}
	c.Flags().StringSliceVar(&ips, "ip", nil, "public IP address(es) the MX host must resolve to")
	c.Flags().StringVar(&resolver, "resolver", "", "DNS server host:port to query (default: [dns] resolver, else the system's)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
