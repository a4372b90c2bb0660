package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// dnsTimeout bounds one DNS exchange.
const dnsTimeout = 10 * time.Second

// errPermanent marks an error that must bounce rather than be retried
// (NXDOMAIN, null MX), as opposed to a network or SERVFAIL error.
type permError struct{ msg string }

func (e *permError) Error() string { return e.msg }

func isPermanent(err error) bool {
	var p *permError
	return errors.As(err, &p)
}

// resolver performs the MX and address lookups of RFC 5321 §5.1 with
// miekg/dns against one configured server, so the `[dns] resolver` setting
// and dns/dnstest in tests are honoured exactly.
type resolver struct {
	server string // host:port
}

// systemNameserver returns the first nameserver of /etc/resolv.conf, or
// 127.0.0.1:53 when it cannot be read.
func systemNameserver() string {
	cfg, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil || len(cfg.Servers) == 0 {
		return "127.0.0.1:53"
	}
	return net.JoinHostPort(cfg.Servers[0], cfg.Port)
}

// query sends one question, retrying over TCP when the UDP answer is
// truncated. It returns the answer with any RCODE; callers interpret it.
func (r *resolver) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(4096, false)
	c := &dns.Client{Timeout: dnsTimeout}
	in, _, err := c.ExchangeContext(ctx, m, r.server)
	if err == nil && in.Truncated {
		c.Net = "tcp"
		in, _, err = c.ExchangeContext(ctx, m, r.server)
	}
	if err != nil {
		return nil, fmt.Errorf("DNS %s %s: %w", dns.TypeToString[qtype], name, err)
	}
	return in, nil
}

// mxHosts returns the hosts to try for domain, best preference first. With
// no MX records the domain itself is the host (implicit MX, RFC 5321 §5.1).
// A null MX (RFC 7505) and NXDOMAIN are permanent errors.
func (r *resolver) mxHosts(ctx context.Context, domain string) ([]string, error) {
	in, err := r.query(ctx, domain, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	switch in.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, &permError{fmt.Sprintf("domain %s does not exist (NXDOMAIN)", domain)}
	default:
		return nil, fmt.Errorf("DNS MX %s: %s", domain, dns.RcodeToString[in.Rcode])
	}
	var mxs []*dns.MX
	for _, rr := range in.Answer {
		if mx, ok := rr.(*dns.MX); ok {
			mxs = append(mxs, mx)
		}
	}
	if len(mxs) == 0 {
		return []string{domain}, nil
	}
	if len(mxs) == 1 && mxs[0].Mx == "." {
		return nil, &permError{fmt.Sprintf("domain %s does not accept mail (null MX)", domain)}
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

// addrs returns the IPv4 then IPv6 addresses of host. A literal IP is
// returned as is.
func (r *resolver) addrs(ctx context.Context, host string) ([]string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []string{ip.String()}, nil
	}
	var out []string
	var lastErr error
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		in, err := r.query(ctx, host, qt)
		if err != nil {
			lastErr = err
			continue
		}
		for _, rr := range in.Answer {
			switch a := rr.(type) {
			case *dns.A:
				out = append(out, a.A.String())
			case *dns.AAAA:
				out = append(out, a.AAAA.String())
			}
		}
	}
	if len(out) == 0 {
		if lastErr != nil {
			return nil, lastErr
		}
		return nil, fmt.Errorf("host %s has no A/AAAA records", host)
	}
	return out, nil
}
