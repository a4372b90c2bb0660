package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"mailsrv/dns"
	"mailsrv/store"
)

type dnsArgs struct {
	Name     string   `json:"name"`
	IPs      []string `json:"ips,omitempty"`
	Resolver string   `json:"resolver,omitempty"`
}

// dnsParams builds the DNS helper's input from the stored domain (DKIM
// keys) and the config (hostname, MTA-STS mode).
func (h *Handler) dnsParams(ctx context.Context, a dnsArgs) (dns.Params, error) {
	d, err := h.Store.GetDomain(ctx, a.Name)
	if err != nil {
		return dns.Params{}, err
	}
	p := dns.Params{Domain: d.Name, Hostname: h.Config.Hostname, MTASTSMode: h.Config.TLS.MTASTSMode}
	for _, s := range a.IPs {
		ip := net.ParseIP(s)
		if ip == nil {
			return dns.Params{}, fmt.Errorf("--ip %q is not an IP address", s)
		}
		p.IPs = append(p.IPs, ip)
	}
	for _, k := range d.DKIM {
		p.DKIM = append(p.DKIM, dns.DKIMKey{Selector: k.Selector, Algorithm: k.Algorithm, PublicKey: k.PublicKey})
	}
	if err := p.Validate(); err != nil {
		if notPublicName(p.Hostname) {
			return p, fmt.Errorf("%v: set `hostname` in the config file to this server's public name (e.g. mail.%s)", err, p.Domain)
		}
		return p, err
	}
	return p, nil
}

// notPublicName reports a hostname that cannot be an MX target: an IP
// address or a single label such as an OS hostname.
func notPublicName(h string) bool {
	return net.ParseIP(h) != nil || !strings.Contains(strings.TrimSuffix(h, "."), ".")
}

// resolverAddr picks the DNS server for verification: --resolver, then
// [dns] resolver, then the system's first nameserver.
func (h *Handler) resolverAddr(flag string) string {
	if flag != "" {
		return flag
	}
	if h.Config.DNS.Resolver != "" {
		return h.Config.DNS.Resolver
	}
	return dns.SystemResolverAddr()
}

func (h *Handler) dnsOps() map[string]OpFunc {
	return map[string]OpFunc{
		"domain.records": op(func(ctx context.Context, a dnsArgs) (any, error) {
			p, err := h.dnsParams(ctx, a)
			placeholder := ""
			if err != nil && p.Domain == "" {
				return nil, err // not a local domain
			}
			if err != nil && notPublicName(p.Hostname) {
				// A trial install on a laptop: its hostname ("vm",
				// "alice-laptop") is no DNS name. Show the records for the
				// conventional mail.<domain> and say so on the MX record,
				// rather than refusing to show anything.
				placeholder, p.Hostname = p.Hostname, "mail."+p.Domain
				err = p.Validate()
			}
			if err != nil {
				return nil, err
			}
			recs, err := dns.Records(p)
			if err != nil || placeholder == "" {
				return recs, err
			}
			for i := range recs {
				if recs[i].Type == "MX" {
					recs[i].Comment += fmt.Sprintf(". This server's hostname %q is not a public DNS name, so these records assume %s: set `hostname` in the config to the name you publish", placeholder, p.Hostname)
				}
			}
			return recs, nil
		}),
		// domain.verify returns the report even when checks fail; the CLI
		// turns a failed report into exit code 1.
		"domain.verify": op(func(ctx context.Context, a dnsArgs) (any, error) {
			p, err := h.dnsParams(ctx, a)
			if err != nil {
				return nil, err
			}
			c := &dns.Checker{Server: h.resolverAddr(a.Resolver)}
			rep, err := c.Verify(ctx, p)
			if err != nil {
				return nil, err
			}
			rep.Checks = append(rep.Checks, h.postmasterChecks(ctx, p.Domain)...)
			return rep, nil
		}),
	}
}

// postmasterChecks warns when nobody would receive postmaster@ or abuse@
// of domain (SPEC §4): the DMARC and TLS-RPT records send reports there.
func (h *Handler) postmasterChecks(ctx context.Context, domain string) []dns.Check {
	var out []dns.Check
	for _, local := range []string{"postmaster", "abuse"} {
		addr := local + "@" + domain
		c := dns.Check{Name: addr, Status: dns.StatusOK}
		who, err := h.Store.Receivers(ctx, addr)
		switch {
		case err == nil:
			c.Found = strings.Join(who, ", ")
			c.Message = addr + " is delivered to " + c.Found
		case errors.Is(err, store.ErrNotFound):
			c.Status = dns.StatusWarn
			c.Message = "nobody would receive " + addr + ": add a user to " + domain +
				" (`mailsrv user add`) or give one the postmaster role (`mailsrv admin grant ADDR postmaster`)"
		default:
			c.Status = dns.StatusWarn
			c.Message = "cannot tell who receives " + addr + ": " + err.Error()
		}
		out = append(out, c)
	}
	return out
}
