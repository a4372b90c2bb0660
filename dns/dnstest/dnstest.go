// Package dnstest runs an in-process, authoritative miekg/dns server on
// 127.0.0.1 (UDP and TCP on the same random port) that serves fixture zones
// written in zone-file syntax.
//
// It exists so that everything in mailsrv that talks DNS (domain verify, MX
// intake's SPF/DKIM/DMARC checks, the outbound queue's MX lookups) can be
// tested against exact, deterministic answers instead of the system resolver.
// The server answers like a real authoritative server where tests care:
// NXDOMAIN versus NODATA (with the SOA in the authority section), empty
// non-terminals, in-zone CNAME chasing, PTR zones, EDNS0 and UDP truncation
// (so TCP fallback is exercised for big TXT sets). Faults can be injected per
// name: SERVFAIL, REFUSED, never answering (timeout) and forced truncation.
//
// Not supported, on purpose: wildcards, delegations below a zone apex,
// DNSSEC and zone transfers. No test needs them.
package dnstest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// Fault is an injected misbehaviour for a name (and optionally one type).
type Fault int

const (
	// NoFault answers normally; setting it removes an earlier fault.
	NoFault Fault = iota
	// ServFail answers with RCODE SERVFAIL, like a resolver whose upstream
	// authoritative servers are broken.
	ServFail
	// Refused answers with RCODE REFUSED.
	Refused
	// Timeout never answers, so clients run into their timeout.
	Timeout
	// Truncate answers UDP queries with the TC bit and no records, forcing
	// the client to retry over TCP (which is answered normally).
	Truncate
)

// Server is a running fixture DNS server. All methods are safe for
// concurrent use; zones and faults may be changed while it serves.
type Server struct {
	addr string
	udp  *mdns.Server
	tcp  *mdns.Server

	mu     sync.RWMutex
	zones  map[string]*zone // canonical origin -> zone
	faults map[faultKey]Fault

	queries atomic.Int64
}

type faultKey struct {
	name  string
	qtype uint16 // 0 = every type
}

// zone is one parsed zone: every owner name, including empty non-terminals
// (present with an empty type map, so they answer NODATA, not NXDOMAIN).
type zone struct {
	origin string
	soa    *mdns.SOA
	names  map[string]map[uint16][]mdns.RR
}

// Start serves the given zone files and stops the server when the test
// ends. A file's origin is the owner of its SOA record, or else the file
// name without a trailing ".zone" (so "example.com.zone" is example.com.).
func Start(t testing.TB, zoneFiles ...string) *Server {
	t.Helper()
	s := listen(t)
	for _, f := range zoneFiles {
		if err := s.AddZoneFile(f); err != nil {
			t.Fatalf("dnstest: %v", err)
		}
	}
	return s
}

// StartZones serves zones given inline, keyed by origin ("example.com" or
// "example.com."), and stops the server when the test ends.
func StartZones(t testing.TB, zones map[string]string) *Server {
	t.Helper()
	s := listen(t)
	for origin, text := range zones {
		if err := s.AddZone(origin, text); err != nil {
			t.Fatalf("dnstest: %v", err)
		}
	}
	return s
}

func listen(t testing.TB) *Server {
	t.Helper()
	s, err := Listen()
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Listen starts an empty server on 127.0.0.1 with a random port; add zones
// with AddZone or AddZoneFile and stop it with Close. Tests normally use
// Start or StartZones instead.
func Listen() (*Server, error) {
	s := &Server{
		zones:  make(map[string]*zone),
		faults: make(map[faultKey]Fault),
	}
	// UDP and TCP must share one port. Take a random UDP port first, then
	// try TCP on it; another process may own that TCP port, so retry.
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("listen udp: %w", err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			lastErr = err
			continue
		}
		s.addr = pc.LocalAddr().String()
		s.udp = &mdns.Server{PacketConn: pc, Handler: s}
		s.tcp = &mdns.Server{Listener: l, Handler: s}
		if err := start(s.udp); err != nil {
			l.Close()
			return nil, err
		}
		if err := start(s.tcp); err != nil {
			s.udp.Shutdown()
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("no free port for both udp and tcp: %w", lastErr)
}

// start runs srv in the background and waits until it accepts queries, so a
// test never races its first query against server start-up.
func start(srv *mdns.Server) error {
	started := make(chan struct{})
	errc := make(chan error, 1)
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { errc <- srv.ActivateAndServe() }()
	select {
	case <-started:
		return nil
	case err := <-errc:
		return fmt.Errorf("dns server: %w", err)
	case <-time.After(5 * time.Second):
		return fmt.Errorf("dns server did not start")
	}
}

// Addr is the "127.0.0.1:port" address serving both UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// Queries reports how many queries the server has received.
func (s *Server) Queries() int { return int(s.queries.Load()) }

// Close stops both listeners. It is idempotent enough for t.Cleanup.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.udp.ShutdownContext(ctx)
	_ = s.tcp.ShutdownContext(ctx)
}

// SetFault makes queries for name (and qtype, or every type when qtype is
// 0) misbehave. NoFault removes it.
func (s *Server) SetFault(name string, qtype uint16, f Fault) {
	k := faultKey{name: canonical(name), qtype: qtype}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == NoFault {
		delete(s.faults, k)
		return
	}
	s.faults[k] = f
}

// AddZoneFile parses and serves a zone file (see Start for the origin).
func (s *Server) AddZoneFile(path string) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	origin := strings.TrimSuffix(filepath.Base(path), ".zone")
	return s.addZone(origin, string(text), path, true)
}

// AddZone parses and serves zone text for origin, replacing any zone with
// the same origin. Relative names in text are relative to origin.
func (s *Server) AddZone(origin, text string) error {
	return s.addZone(origin, text, "", false)
}

func (s *Server) addZone(origin, text, file string, soaWins bool) error {
	if _, ok := mdns.IsDomainName(origin); !ok || origin == "" {
		return fmt.Errorf("invalid zone origin %q", origin)
	}
	origin = canonical(origin)
	var rrs []mdns.RR
	zp := mdns.NewZoneParser(strings.NewReader(text), origin, file)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return fmt.Errorf("zone %s: %w", origin, err)
	}
	// A file's SOA names its zone, so fixture files need not be named
	// after their origin.
	if soaWins {
		for _, rr := range rrs {
			if soa, ok := rr.(*mdns.SOA); ok {
				origin = canonical(soa.Hdr.Name)
				break
			}
		}
	}
	z, err := buildZone(origin, rrs)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zones[origin] = z
	return nil
}

func buildZone(origin string, rrs []mdns.RR) (*zone, error) {
	z := &zone{origin: origin, names: map[string]map[uint16][]mdns.RR{origin: {}}}
	for _, rr := range rrs {
		h := rr.Header()
		h.Name = canonical(h.Name)
		if !mdns.IsSubDomain(origin, h.Name) {
			return nil, fmt.Errorf("zone %s: record %q is outside the zone", origin, rr.String())
		}
		if soa, ok := rr.(*mdns.SOA); ok {
			if h.Name != origin {
				return nil, fmt.Errorf("zone %s: SOA at %s, not at the apex", origin, h.Name)
			}
			z.soa = soa
		}
		// Register the owner and every empty non-terminal up to the apex.
		for n := h.Name; n != origin; n = parent(n) {
			if _, ok := z.names[n]; !ok {
				z.names[n] = map[uint16][]mdns.RR{}
			}
		}
		z.names[h.Name][h.Rrtype] = append(z.names[h.Name][h.Rrtype], rr)
	}
	if z.soa == nil {
		// Negative answers need an SOA; inline test zones rarely bother.
		z.soa = &mdns.SOA{
			Hdr:     mdns.RR_Header{Name: origin, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: 3600},
			Ns:      "ns." + origin,
			Mbox:    "hostmaster." + origin,
			Serial:  1,
			Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 60,
		}
		z.names[origin][mdns.TypeSOA] = []mdns.RR{z.soa}
	}
	return z, nil
}

func parent(name string) string {
	i := strings.IndexByte(name, '.')
	if i < 0 || i == len(name)-1 {
		return "."
	}
	return name[i+1:]
}

func canonical(name string) string { return mdns.CanonicalName(name) }

// ServeDNS implements mdns.Handler.
func (s *Server) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	s.queries.Add(1)
	m := new(mdns.Msg)
	if len(req.Question) != 1 {
		m.SetRcode(req, mdns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := canonical(q.Name)
	udp := w.LocalAddr().Network() == "udp"

	s.mu.RLock()
	defer s.mu.RUnlock()

	switch s.fault(name, q.Qtype) {
	case Timeout:
		return // never answer
	case ServFail:
		m.SetRcode(req, mdns.RcodeServerFailure)
		_ = w.WriteMsg(m)
		return
	case Refused:
		m.SetRcode(req, mdns.RcodeRefused)
		_ = w.WriteMsg(m)
		return
	case Truncate:
		if udp {
			m.SetReply(req)
			m.Truncated = true
			_ = w.WriteMsg(m)
			return
		}
	}

	z := s.zoneFor(name)
	if z == nil {
		m.SetRcode(req, mdns.RcodeRefused)
		_ = w.WriteMsg(m)
		return
	}
	m.SetReply(req)
	m.Authoritative = true
	s.answer(m, z, name, q.Qtype, 0)

	size := mdns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = max(int(opt.UDPSize()), mdns.MinMsgSize)
		m.SetEdns0(opt.UDPSize(), false)
	}
	if udp {
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}

// answer fills m for name/qtype in z, chasing CNAMEs into any served zone.
func (s *Server) answer(m *mdns.Msg, z *zone, name string, qtype uint16, depth int) {
	node, ok := z.names[name]
	if !ok {
		m.Rcode = mdns.RcodeNameError
		m.Ns = []mdns.RR{z.soa}
		return
	}
	if qtype == mdns.TypeANY {
		for _, rrs := range node {
			m.Answer = append(m.Answer, rrs...)
		}
		return
	}
	if rrs := node[qtype]; len(rrs) > 0 {
		m.Answer = append(m.Answer, rrs...)
		return
	}
	if cn := node[mdns.TypeCNAME]; len(cn) > 0 && qtype != mdns.TypeCNAME {
		m.Answer = append(m.Answer, cn[0])
		target := canonical(cn[0].(*mdns.CNAME).Target)
		if tz := s.zoneFor(target); tz != nil && depth < 8 {
			s.answer(m, tz, target, qtype, depth+1)
		}
		return
	}
	m.Ns = []mdns.RR{z.soa} // NODATA
}

// fault must be called with s.mu held.
func (s *Server) fault(name string, qtype uint16) Fault {
	if f, ok := s.faults[faultKey{name, qtype}]; ok {
		return f
	}
	return s.faults[faultKey{name, 0}]
}

// zoneFor returns the most specific served zone containing name; s.mu held.
func (s *Server) zoneFor(name string) *zone {
	var best *zone
	for origin, z := range s.zones {
		if mdns.IsSubDomain(origin, name) && (best == nil || len(origin) > len(best.origin)) {
			best = z
		}
	}
	return best
}
