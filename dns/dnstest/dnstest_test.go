package dnstest

import (
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

const zoneText = `
$TTL 300
@        IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@        IN MX  10 mail
mail     IN A   192.0.2.10
alias    IN CNAME mail
sel._domainkey IN TXT "v=DKIM1; p=abc"
`

func query(t *testing.T, s *Server, network, name string, qtype uint16, edns bool) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), qtype)
	if edns {
		m.SetEdns0(1232, false)
	}
	c := &mdns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, s.Addr())
	if err != nil {
		t.Fatalf("query %s %s over %s: %v", name, mdns.TypeToString[qtype], network, err)
	}
	return r
}

func TestAnswersLikeAnAuthoritativeServer(t *testing.T) {
	s := StartZones(t, map[string]string{"example.com": zoneText})
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr = %q", s.Addr())
	}
	for _, network := range []string{"udp", "tcp"} {
		r := query(t, s, network, "EXAMPLE.com", mdns.TypeMX, false)
		if r.Rcode != mdns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 1 || r.Answer[0].(*mdns.MX).Mx != "mail.example.com." {
			t.Fatalf("%s MX: %v", network, r)
		}
	}

	// NXDOMAIN carries the SOA.
	r := query(t, s, "udp", "nope.example.com", mdns.TypeA, false)
	if r.Rcode != mdns.RcodeNameError || len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != mdns.TypeSOA {
		t.Fatalf("NXDOMAIN: %v", r)
	}
	// NODATA: the name exists, the type does not.
	r = query(t, s, "udp", "mail.example.com", mdns.TypeAAAA, false)
	if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 {
		t.Fatalf("NODATA: %v", r)
	}
	// An empty non-terminal is NODATA too, not NXDOMAIN.
	r = query(t, s, "udp", "_domainkey.example.com", mdns.TypeTXT, false)
	if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 0 {
		t.Fatalf("empty non-terminal: %v", r)
	}
	// CNAMEs are chased within served zones.
	r = query(t, s, "udp", "alias.example.com", mdns.TypeA, false)
	if len(r.Answer) != 2 || r.Answer[1].(*mdns.A).A.String() != "192.0.2.10" {
		t.Fatalf("CNAME chase: %v", r)
	}
	// Names outside every zone are refused.
	r = query(t, s, "udp", "example.org", mdns.TypeA, false)
	if r.Rcode != mdns.RcodeRefused {
		t.Fatalf("out of zone: %v", r)
	}
}

func TestZoneFilesAndPTR(t *testing.T) {
	s := Start(t, "../../testdata/zones/example.com.zone", "../../testdata/zones/2.0.192.in-addr.arpa.zone",
		"../../testdata/zones/8.b.d.0.1.0.0.2.ip6.arpa.zone")
	for _, ip := range []string{"192.0.2.10", "2001:db8::10"} {
		arpa, _ := mdns.ReverseAddr(ip)
		r := query(t, s, "udp", arpa, mdns.TypePTR, false)
		if len(r.Answer) != 1 || r.Answer[0].(*mdns.PTR).Ptr != "mail.example.com." {
			t.Fatalf("PTR %s: %v", ip, r)
		}
	}
	r := query(t, s, "udp", "mail._domainkey.example.com", mdns.TypeTXT, true)
	if len(r.Answer) != 1 || len(r.Answer[0].(*mdns.TXT).Txt) != 2 {
		t.Fatalf("split DKIM TXT: %v", r)
	}
}

func TestFaults(t *testing.T) {
	s := StartZones(t, map[string]string{"example.com.": zoneText})

	s.SetFault("example.com", mdns.TypeMX, ServFail)
	if r := query(t, s, "udp", "example.com", mdns.TypeMX, false); r.Rcode != mdns.RcodeServerFailure {
		t.Fatalf("ServFail: %v", r)
	}
	// The fault is per type: A at the same name is unaffected.
	if r := query(t, s, "udp", "mail.example.com", mdns.TypeA, false); r.Rcode != mdns.RcodeSuccess {
		t.Fatalf("other name: %v", r)
	}
	s.SetFault("example.com", mdns.TypeMX, NoFault)
	if r := query(t, s, "udp", "example.com", mdns.TypeMX, false); r.Rcode != mdns.RcodeSuccess {
		t.Fatalf("fault not removed: %v", r)
	}

	s.SetFault("mail.example.com", 0, Timeout)
	m := new(mdns.Msg)
	m.SetQuestion("mail.example.com.", mdns.TypeA)
	c := &mdns.Client{Timeout: 200 * time.Millisecond}
	if _, _, err := c.Exchange(m, s.Addr()); err == nil {
		t.Fatal("Timeout fault answered")
	}

	s.SetFault("sel._domainkey.example.com", mdns.TypeTXT, Truncate)
	if r := query(t, s, "udp", "sel._domainkey.example.com", mdns.TypeTXT, false); !r.Truncated || len(r.Answer) != 0 {
		t.Fatalf("Truncate over UDP: %v", r)
	}
	if r := query(t, s, "tcp", "sel._domainkey.example.com", mdns.TypeTXT, false); r.Truncated || len(r.Answer) != 1 {
		t.Fatalf("Truncate over TCP: %v", r)
	}
}

func TestBigAnswersAreTruncatedOverUDP(t *testing.T) {
	var b strings.Builder
	for i := range 20 {
		b.WriteString(`big IN TXT "` + strings.Repeat(string(rune('a'+i)), 200) + `"` + "\n")
	}
	s := StartZones(t, map[string]string{"example.com": b.String()})
	if r := query(t, s, "udp", "big.example.com", mdns.TypeTXT, false); !r.Truncated {
		t.Fatalf("4 KB answer over UDP without EDNS not truncated: %d records", len(r.Answer))
	}
	if r := query(t, s, "tcp", "big.example.com", mdns.TypeTXT, false); len(r.Answer) != 20 {
		t.Fatalf("TCP answer has %d records, want 20", len(r.Answer))
	}
}

func TestBadZones(t *testing.T) {
	s, err := Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, tc := range map[string]struct{ origin, text string }{
		"syntax":       {"example.com", "@ IN MX mail\n"},
		"out of zone":  {"example.com", "www.example.org. IN A 192.0.2.1\n"},
		"bad origin":   {"exa mple..com", "@ IN A 192.0.2.1\n"},
		"empty origin": {"", "@ IN A 192.0.2.1\n"},
	} {
		if err := s.AddZone(tc.origin, tc.text); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := s.AddZoneFile("does-not-exist.zone"); err == nil {
		t.Error("missing file: no error")
	}
}
