package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// Client is the DNS client the outbound queue uses to find where mail for
// a domain goes (RFC 5321 §5.1). It is the same miekg/dns client as
// `domain verify`'s (UDP with a second try, TCP on truncation), against
// one server, without a cache beyond one call.
type Client struct {
	// Server is "host:port"; "" means SystemResolverAddr().
	Server string
	// Timeout bounds one query; 0 means DefaultTimeout.
	Timeout time.Duration
}

// PermanentError is a DNS answer that makes a domain undeliverable (the
// message bounces at once instead of being retried): NXDOMAIN, a null MX
// (RFC 7505), or neither MX nor A/AAAA records.
type PermanentError struct{ Msg string }

func (e *PermanentError) Error() string { return e.Msg }

// IsPermanent reports whether err is a *PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

func (c *Client) resolver() *resolver { return newResolver(c.Server, c.Timeout) }

// ServerAddr is the DNS server the client asks.
func (c *Client) ServerAddr() string { return c.resolver().server }

// MailHosts returns the hosts that receive mail for domain, best MX
// preference first. Without MX records the domain itself is the host
// (implicit MX), but only when it has an A or AAAA record: a domain with
// neither is a PermanentError, like NXDOMAIN and a null MX. SERVFAIL and
// timeouts are ordinary (temporary) errors.
func (c *Client) MailHosts(ctx context.Context, domain string) ([]string, error) {
	r := c.resolver()
	a := r.query(ctx, domain, mdns.TypeMX)
	switch {
	case a.outcome == nxdomain:
		return nil, &PermanentError{fmt.Sprintf("domain %s does not exist (NXDOMAIN)", domain)}
	case a.outcome == nodata:
		if _, err := hostAddrs(ctx, r, domain); err != nil {
			if IsPermanent(err) {
				return nil, &PermanentError{fmt.Sprintf("domain %s has neither MX nor A/AAAA records: it does not receive mail", domain)}
			}
			return nil, err
		}
		return []string{domain}, nil
	case a.outcome != found:
		return nil, errors.New(a.describe())
	}
	var mxs []*mdns.MX
	for _, rr := range a.rrs {
		mxs = append(mxs, rr.(*mdns.MX))
	}
	if len(mxs) == 1 && mxs[0].Mx == "." {
		return nil, &PermanentError{fmt.Sprintf("domain %s does not accept mail (null MX)", domain)}
	}
	sort.SliceStable(mxs, func(i, j int) bool { return mxs[i].Preference < mxs[j].Preference })
	out := make([]string, 0, len(mxs))
	for _, mx := range mxs {
		if mx.Mx != "." {
			out = append(out, strings.TrimSuffix(mx.Mx, "."))
		}
	}
	return out, nil
}

// HostAddrs returns the IPv4 then IPv6 addresses of host; a literal IP is
// returned as is. A host with neither record is a PermanentError.
func (c *Client) HostAddrs(ctx context.Context, host string) ([]string, error) {
	return hostAddrs(ctx, c.resolver(), host)
}

func hostAddrs(ctx context.Context, r *resolver, host string) ([]string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []string{ip.String()}, nil
	}
	var out []string
	var tempErr error
	for _, qt := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
		a := r.query(ctx, host, qt)
		switch {
		case a.outcome == found:
			for _, ip := range addrsOf(a) {
				out = append(out, ip.IP.String())
			}
		case !a.missing():
			tempErr = errors.New(a.describe())
		}
	}
	switch {
	case len(out) > 0:
		return out, nil
	case tempErr != nil:
		return nil, tempErr
	}
	return nil, &PermanentError{fmt.Sprintf("host %s has no A/AAAA records", host)}
}
