package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// DefaultTimeout bounds one DNS query (both UDP attempts and the TCP
// fallback together).
const DefaultTimeout = 5 * time.Second

// outcome classifies a DNS answer the way the admin needs to hear it: a
// missing record is their zone's fault, SERVFAIL and timeouts are their DNS
// provider's (or the resolver's).
type outcome int

const (
	found outcome = iota
	nxdomain
	nodata
	servfail
	timeout
	failed // other RCODE or a network error
)

// answer is the result of one query: the records of the asked type (CNAMEs
// already followed by the resolver) or why there are none.
type answer struct {
	name    string
	qtype   uint16
	outcome outcome
	rrs     []mdns.RR
	rcode   int
	err     error
	server  string
	timeout time.Duration
}

// missing is true when the name or the record type does not exist: the
// zone lacks the record, as opposed to DNS not answering.
func (a answer) missing() bool { return a.outcome == nxdomain || a.outcome == nodata }

// describe explains a non-found answer in one phrase.
func (a answer) describe() string {
	t := mdns.TypeToString[a.qtype]
	n := strings.TrimSuffix(a.name, ".")
	switch a.outcome {
	case found:
		return fmt.Sprintf("%s %s found", n, t)
	case nxdomain:
		return fmt.Sprintf("record missing: %s does not exist (NXDOMAIN)", n)
	case nodata:
		return fmt.Sprintf("record missing: %s has no %s record (NODATA)", n, t)
	case servfail:
		return fmt.Sprintf("your DNS provider did not answer: resolver %s returned SERVFAIL for %s %s (broken delegation or DNSSEC?)", a.server, n, t)
	case timeout:
		return fmt.Sprintf("your DNS provider did not answer: no reply from resolver %s within %s for %s %s (timeout)", a.server, a.timeout, n, t)
	}
	if a.err != nil {
		return fmt.Sprintf("query %s %s via %s failed: %v", n, t, a.server, a.err)
	}
	return fmt.Sprintf("resolver %s answered %s for %s %s", a.server, mdns.RcodeToString[a.rcode], n, t)
}

// txts returns each TXT record's strings concatenated, as RFC 7208/6376
// receivers read them.
func (a answer) txts() []string {
	var out []string
	for _, rr := range a.rrs {
		if t, ok := rr.(*mdns.TXT); ok {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	return out
}

type queryKey struct {
	name  string
	qtype uint16
}

// resolver queries one DNS server with the miekg/dns client. It caches per
// instance (one verification run), never globally, so repeated checks of
// the same name cost one query and see one consistent answer.
type resolver struct {
	server  string
	timeout time.Duration
	cache   map[queryKey]answer
}

func newResolver(server string, timeout time.Duration) *resolver {
	if server == "" {
		server = SystemResolverAddr()
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &resolver{server: server, timeout: timeout, cache: make(map[queryKey]answer)}
}

func (r *resolver) query(ctx context.Context, name string, qtype uint16) answer {
	name = mdns.CanonicalName(name)
	k := queryKey{name, qtype}
	if a, ok := r.cache[k]; ok {
		return a
	}
	a := r.exchange(ctx, name, qtype)
	// Do not cache a cancelled context's failure: it says nothing about DNS.
	if ctx.Err() == nil {
		r.cache[k] = a
	}
	return a
}

// exchange sends the query over UDP (a second attempt after half the
// budget, as a lost datagram is normal) and retries over TCP when the
// answer is truncated.
func (r *resolver) exchange(ctx context.Context, name string, qtype uint16) answer {
	a := answer{name: name, qtype: qtype, server: r.server, timeout: r.timeout}
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	m.SetEdns0(1232, false)

	deadline := time.Now().Add(r.timeout)
	var resp *mdns.Msg
	var err error
	for attempt := range 2 {
		budget := time.Until(deadline)
		if attempt == 0 {
			budget /= 2
		}
		resp, err = r.once(ctx, "udp", m, budget)
		if err == nil || !isTimeout(err) || ctx.Err() != nil {
			break
		}
	}
	if err == nil && resp.Truncated {
		resp, err = r.once(ctx, "tcp", m, max(time.Until(deadline), time.Second))
	}
	switch {
	case err != nil && ctx.Err() != nil:
		a.outcome, a.err = failed, ctx.Err()
	case err != nil && isTimeout(err):
		a.outcome, a.err = timeout, err
	case err != nil:
		a.outcome, a.err = failed, err
	default:
		a.rcode = resp.Rcode
		switch resp.Rcode {
		case mdns.RcodeSuccess:
			for _, rr := range resp.Answer {
				if rr.Header().Rrtype == qtype {
					a.rrs = append(a.rrs, rr)
				}
			}
			a.outcome = found
			if len(a.rrs) == 0 {
				a.outcome = nodata
			}
		case mdns.RcodeNameError:
			a.outcome = nxdomain
		case mdns.RcodeServerFailure:
			a.outcome = servfail
		default:
			a.outcome = failed
		}
	}
	return a
}

func (r *resolver) once(ctx context.Context, network string, m *mdns.Msg, budget time.Duration) (*mdns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	c := &mdns.Client{Net: network, Timeout: budget, UDPSize: 1232}
	resp, _, err := c.ExchangeContext(ctx, m, r.server)
	return resp, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// SystemResolverAddr is the first nameserver of /etc/resolv.conf as
// "host:port", for when no [dns] resolver is configured. Without a usable
// resolv.conf it falls back to 127.0.0.1:53, as the C library does.
func SystemResolverAddr() string {
	return resolverFromConf("/etc/resolv.conf")
}

func resolverFromConf(path string) string {
	cfg, err := mdns.ClientConfigFromFile(path)
	if err != nil || len(cfg.Servers) == 0 {
		return "127.0.0.1:53"
	}
	// Strip an IPv6 zone-less bracket form; JoinHostPort adds brackets.
	host := strings.Trim(cfg.Servers[0], "[]")
	return net.JoinHostPort(host, cfg.Port)
}

// MXPointsAt reports whether one of domain's MX records names hostname,
// for serve's startup warning. A domain without MX records (NXDOMAIN or
// NODATA) is (false, nil); SERVFAIL, timeouts and network errors are
// errors, because then nothing is known. server "" means the system
// resolver.
func MXPointsAt(ctx context.Context, server, domain, hostname string) (bool, error) {
	if err := checkName("domain", strings.TrimSuffix(domain, ".")); err != nil {
		return false, err
	}
	if err := checkName("hostname", strings.TrimSuffix(hostname, ".")); err != nil {
		return false, err
	}
	r := newResolver(server, DefaultTimeout)
	a := r.query(ctx, domain, mdns.TypeMX)
	switch {
	case a.missing():
		return false, nil
	case a.outcome != found:
		return false, errors.New(a.describe())
	}
	want := mdns.CanonicalName(hostname)
	for _, rr := range a.rrs {
		if mdns.CanonicalName(rr.(*mdns.MX).Mx) == want {
			return true, nil
		}
	}
	return false, nil
}

// spfResolver adapts resolver to blitiri.com.ar/go/spf's DNSResolver, with
// the *net.DNSError flags that library uses to tell "not found" (a void
// lookup) from temporary failures.
type spfResolver struct {
	r *resolver
}

func (s spfResolver) err(a answer) error {
	return &net.DNSError{
		Err:         a.describe(),
		Name:        strings.TrimSuffix(a.name, "."),
		Server:      a.server,
		IsNotFound:  a.missing(),
		IsTimeout:   a.outcome == timeout,
		IsTemporary: a.outcome == servfail || a.outcome == timeout,
	}
}

func (s spfResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	a := s.r.query(ctx, name, mdns.TypeTXT)
	if a.outcome != found {
		return nil, s.err(a)
	}
	return a.txts(), nil
}

func (s spfResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	a := s.r.query(ctx, name, mdns.TypeMX)
	if a.outcome != found {
		return nil, s.err(a)
	}
	var out []*net.MX
	for _, rr := range a.rrs {
		mx := rr.(*mdns.MX)
		out = append(out, &net.MX{Host: mx.Mx, Pref: mx.Preference})
	}
	return out, nil
}

func (s spfResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	var out []net.IPAddr
	var firstErr error
	for _, qt := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
		a := s.r.query(ctx, host, qt)
		if a.outcome != found {
			if firstErr == nil || !a.missing() {
				firstErr = s.err(a)
			}
			continue
		}
		out = append(out, addrsOf(a)...)
	}
	if len(out) == 0 {
		return nil, firstErr
	}
	return out, nil
}

func (s spfResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	arpa, err := mdns.ReverseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: err.Error(), Name: addr}
	}
	a := s.r.query(ctx, arpa, mdns.TypePTR)
	if a.outcome != found {
		return nil, s.err(a)
	}
	var out []string
	for _, rr := range a.rrs {
		out = append(out, rr.(*mdns.PTR).Ptr)
	}
	return out, nil
}

func addrsOf(a answer) []net.IPAddr {
	var out []net.IPAddr
	for _, rr := range a.rrs {
		switch v := rr.(type) {
		case *mdns.A:
			out = append(out, net.IPAddr{IP: v.A})
		case *mdns.AAAA:
			out = append(out, net.IPAddr{IP: v.AAAA})
		}
	}
	return out
}
