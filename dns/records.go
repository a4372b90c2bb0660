// Package dns is mailsrv's DNS helper: it generates the records a domain
// must publish (`mailsrv domain records`) and verifies them against a real
// DNS server (`mailsrv domain verify`), see SPEC §4.
//
// Inputs are plain values (Params), never the store, so the CLI, the admin
// socket and `serve`'s startup check can all call it with whatever they
// loaded. Verification talks to one resolver with the miekg/dns client
// rather than the system stub resolver: answers are exact (NXDOMAIN, NODATA,
// SERVFAIL and timeouts stay distinguishable, which the stub hides) and tests
// can point it at dns/dnstest.
//
// The generated records are also the "expected" values of the checks, so a
// failing check always shows the exact record that would fix it.
package dns

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	mdns "github.com/miekg/dns"
)

// DefaultTTL is the TTL of every generated record.
const DefaultTTL = 3600

// DKIMKey is one DKIM selector of a domain as stored by mailsrv.
type DKIMKey struct {
	Selector string `json:"selector"`
	// Algorithm is "rsa" or "ed25519" (the DKIM k= tag); "" means rsa.
	Algorithm string `json:"algorithm"`
	// PublicKey is exactly the p= tag value: base64 of the DER
	// SubjectPublicKeyInfo for rsa, of the raw 32-byte key for ed25519.
	PublicKey string `json:"public_key"`
}

// Params describes one mail domain and the server that handles it.
type Params struct {
	Domain   string // e.g. example.com
	Hostname string // the server's name, e.g. mail.example.com (MX target, PTR)
	// IPs are the server's public addresses (--ip or detected). They may be
	// empty; verification then uses what the hostname resolves to.
	IPs  []net.IP
	DKIM []DKIMKey
	// ReportEmail receives DMARC and TLS-RPT reports; "" = postmaster@Domain.
	ReportEmail string
	// MTASTSMode is the MTA-STS policy mode; "" = enforce.
	MTASTSMode string
}

// Record is one DNS record to publish.
type Record struct {
	Name  string `json:"name"` // fully qualified, with trailing dot
	TTL   uint32 `json:"ttl"`
	Type  string `json:"type"`
	Value string `json:"value"` // presentation form; TXT is the unquoted text
	// Comment says what the record is for.
	Comment string `json:"comment,omitempty"`
	// External records do not belong in the domain's zone: PTR is set at
	// the hosting provider, and A/AAAA of a hostname outside the domain go
	// into that hostname's zone. FormatZone prints them commented out.
	External bool `json:"external,omitempty"`
}

// String renders r as one zone-file line; long TXT values are split into
// 255-byte character-strings.
func (r Record) String() string {
	v := r.Value
	if r.Type == "TXT" {
		v = quoteTXT(r.Value)
	}
	return fmt.Sprintf("%s %d IN %s %s", r.Name, r.TTL, r.Type, v)
}

// quoteTXT splits s into quoted strings of at most 255 bytes each, escaping
// quotes and backslashes, as zone files and RFC 1035 require.
func quoteTXT(s string) string {
	var parts []string
	for len(s) > 255 || len(parts) == 0 {
		n := min(len(s), 255)
		parts = append(parts, `"`+escapeTXT(s[:n])+`"`)
		s = s[n:]
	}
	if len(s) > 0 {
		parts = append(parts, `"`+escapeTXT(s)+`"`)
	}
	return strings.Join(parts, " ")
}

func escapeTXT(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// normalized is Params after validation, with names lower-cased and
// fully-qualified forms precomputed.
type normalized struct {
	Params
	domainFQDN, hostFQDN string
}

// Validate reports the first problem with p, phrased for the admin.
func (p Params) Validate() error {
	_, err := p.normalize()
	return err
}

func (p Params) normalize() (normalized, error) {
	n := normalized{Params: p}
	n.Domain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(p.Domain), "."))
	n.Hostname = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(p.Hostname), "."))
	if err := checkName("domain", n.Domain); err != nil {
		return n, err
	}
	if err := checkName("hostname", n.Hostname); err != nil {
		return n, err
	}
	for i, ip := range p.IPs {
		if ip == nil || (ip.To4() == nil && ip.To16() == nil) {
			return n, fmt.Errorf("IP address #%d is invalid", i+1)
		}
		if ip.IsUnspecified() {
			return n, fmt.Errorf("IP address %s is unspecified; give the server's public address", ip)
		}
	}
	n.DKIM = nil
	for _, k := range p.DKIM {
		k.Algorithm = strings.ToLower(k.Algorithm)
		if k.Algorithm == "" || k.Algorithm == "rsa-sha256" {
			k.Algorithm = "rsa"
		}
		if k.Algorithm == "ed25519-sha256" {
			k.Algorithm = "ed25519"
		}
		if k.Algorithm != "rsa" && k.Algorithm != "ed25519" {
			return n, fmt.Errorf("DKIM selector %q: unknown algorithm %q (want rsa or ed25519)", k.Selector, k.Algorithm)
		}
		if _, ok := mdns.IsDomainName(k.Selector); !ok || k.Selector == "" || strings.HasSuffix(k.Selector, ".") {
			return n, fmt.Errorf("DKIM selector %q is not a valid DNS label", k.Selector)
		}
		k.PublicKey = stripSpace(k.PublicKey)
		if _, err := base64.StdEncoding.DecodeString(k.PublicKey); err != nil || k.PublicKey == "" {
			return n, fmt.Errorf("DKIM selector %q: public key is not base64", k.Selector)
		}
		n.DKIM = append(n.DKIM, k)
	}
	if n.ReportEmail == "" {
		n.ReportEmail = "postmaster@" + n.Domain
	}
	if i := strings.LastIndexByte(n.ReportEmail, '@'); i <= 0 || i == len(n.ReportEmail)-1 || strings.ContainsAny(n.ReportEmail, " ;,!") {
		return n, fmt.Errorf("report address %q is not an email address", n.ReportEmail)
	}
	switch n.MTASTSMode {
	case "":
		n.MTASTSMode = "enforce"
	case "enforce", "testing", "none":
	default:
		return n, fmt.Errorf("MTA-STS mode %q: want enforce, testing or none", n.MTASTSMode)
	}
	n.domainFQDN = n.Domain + "."
	n.hostFQDN = n.Hostname + "."
	return n, nil
}

func checkName(what, name string) error {
	if name == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if _, ok := mdns.IsDomainName(name); !ok || !strings.Contains(name, ".") || strings.ContainsAny(name, " /@") {
		return fmt.Errorf("%s %q is not a valid domain name", what, name)
	}
	// An MX target must be a name with address records, never a literal
	// address (RFC 5321 5.1).
	if net.ParseIP(strings.TrimSuffix(name, ".")) != nil {
		return fmt.Errorf("%s %q is an IP address, not a domain name", what, name)
	}
	return nil
}

func stripSpace(s string) string {
	return strings.Join(strings.Fields(s), "")
}

// Records returns every record p's domain should publish, in the order
// FormatZone prints them.
func Records(p Params) ([]Record, error) {
	n, err := p.normalize()
	if err != nil {
		return nil, err
	}
	return n.records(), nil
}

func (n normalized) records() []Record {
	d, h := n.domainFQDN, n.hostFQDN
	rec := func(name, typ, value, comment string) Record {
		return Record{Name: name, TTL: DefaultTTL, Type: typ, Value: value, Comment: comment}
	}
	var out []Record
	out = append(out, rec(d, "MX", "10 "+h, "Mail for "+n.Domain+" is delivered to "+n.Hostname))

	// Addresses of the server. Outside the domain they belong to the
	// hostname's own zone; without --ip the admin must fill them in.
	hostInDomain := mdns.IsSubDomain(d, h)
	addrComment := "Addresses of " + n.Hostname
	if !hostInDomain {
		addrComment += " (publish in the zone of " + n.Hostname + ")"
	}
	v4, v6 := splitIPs(n.IPs)
	for _, ip := range v4 {
		r := rec(h, "A", ip.String(), addrComment)
		r.External = !hostInDomain
		out = append(out, r)
	}
	for _, ip := range v6 {
		r := rec(h, "AAAA", ip.String(), addrComment)
		r.External = !hostInDomain
		out = append(out, r)
	}
	if len(n.IPs) == 0 {
		r := rec(h, "A", "", addrComment+": the server's public IPv4 (and AAAA for IPv6); pass --ip to fill in")
		r.External = true
		out = append(out, r)
	}

	out = append(out, rec(d, "TXT", spfRecord(n.IPs), "SPF: only this server may send as "+n.Domain))
	for _, k := range n.DKIM {
		out = append(out, rec(k.Selector+"._domainkey."+d, "TXT", dkimRecord(k), "DKIM public key, selector "+k.Selector))
	}
	out = append(out, rec("_dmarc."+d, "TXT", "v=DMARC1; p=quarantine; rua=mailto:"+n.ReportEmail,
		"DMARC: quarantine mail failing SPF and DKIM alignment, reports to "+n.ReportEmail))

	// RFC 7489 §7.1: a report address in another domain must consent.
	if rd := n.ReportEmail[strings.LastIndexByte(n.ReportEmail, '@')+1:]; !strings.EqualFold(rd, n.Domain) {
		r := rec(n.Domain+"._report._dmarc."+strings.ToLower(rd)+".", "TXT", "v=DMARC1",
			"DMARC: "+rd+" agrees to receive "+n.Domain+"'s reports (publish in the zone of "+rd+")")
		r.External = true
		out = append(out, r)
	}

	mtaComment := "MTA-STS: policy at https://mta-sts." + n.Domain + "/.well-known/mta-sts.txt (served by mailsrv's http listener)"
	out = append(out, rec("_mta-sts."+d, "TXT", "v=STSv1; id="+MTASTSPolicyID(n.Params), mtaComment))
	if h != "mta-sts."+d {
		out = append(out, rec("mta-sts."+d, "CNAME", h, mtaComment))
	}
	out = append(out, rec("_smtp._tls."+d, "TXT", "v=TLSRPTv1; rua=mailto:"+n.ReportEmail, "TLS-RPT: reports about TLS problems delivering to "+n.Domain))

	acComment := "Client autoconfiguration (Thunderbird autoconfig, Outlook autodiscover)"
	for _, label := range []string{"autoconfig", "autodiscover"} {
		if h != label+"."+d {
			out = append(out, rec(label+"."+d, "CNAME", h, acComment))
		}
	}
	srvComment := "Service discovery (RFC 6186, RFC 8314); target \".\" means not offered"
	for _, s := range srvServices {
		target := "0 1 " + strconv.Itoa(s.port) + " " + h
		if s.port == 0 {
			target = "0 0 0 ."
		}
		out = append(out, rec("_"+s.name+"._tcp."+d, "SRV", target, srvComment))
	}

	for _, ip := range n.IPs {
		arpa, err := mdns.ReverseAddr(ip.String())
		if err != nil {
			continue // cannot happen for a validated IP
		}
		r := rec(arpa, "PTR", h, "Reverse DNS: set at your hosting provider, not in your zone")
		r.External = true
		out = append(out, r)
	}
	return out
}

// srvServices are the RFC 6186/8314 service records, most preferred first.
// Port 0 publishes "not offered", which stops clients from probing POP3.
var srvServices = []struct {
	name string
	port int
}{
	{"submissions", 465}, {"submission", 587}, {"imaps", 993}, {"imap", 143},
	{"pop3s", 0}, {"pop3", 0}, {"autodiscover", 443},
}

func splitIPs(ips []net.IP) (v4, v6 []net.IP) {
	for _, ip := range ips {
		if ip4 := ip.To4(); ip4 != nil {
			v4 = append(v4, ip4)
		} else {
			v6 = append(v6, ip)
		}
	}
	return v4, v6
}

// spfRecord authorises the MX hosts and, when known, the server's own
// addresses (ip4:/ip6: cost no DNS lookups and keep working if the MX
// changes). "-all" because this server is the only sender.
func spfRecord(ips []net.IP) string {
	var b strings.Builder
	b.WriteString("v=spf1")
	v4, v6 := splitIPs(ips)
	for _, ip := range v4 {
		b.WriteString(" ip4:" + ip.String())
	}
	for _, ip := range v6 {
		b.WriteString(" ip6:" + ip.String())
	}
	b.WriteString(" mx -all")
	return b.String()
}

func dkimRecord(k DKIMKey) string {
	return "v=DKIM1; k=" + k.Algorithm + "; p=" + k.PublicKey
}

// MTASTSPolicy is the policy file the http listener serves at
// https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461, CRLF lines).
func MTASTSPolicy(p Params) string {
	n, err := p.normalize()
	if err != nil {
		return ""
	}
	mode := n.MTASTSMode
	return "version: STSv1\r\nmode: " + mode + "\r\nmx: " + n.Hostname + "\r\nmax_age: 604800\r\n"
}

// MTASTSPolicyID is the id= of the _mta-sts TXT record: a hash of the
// policy, so it changes exactly when the policy does (senders refetch the
// policy when the id changes) and is stable across runs.
func MTASTSPolicyID(p Params) string {
	sum := sha256.Sum256([]byte(MTASTSPolicy(p)))
	return hex.EncodeToString(sum[:10])
}

// FormatZone writes recs in zone-file syntax: a comment line before each
// group, aligned columns, TXT split into 255-byte strings. External records
// and placeholders (empty Value) are written as comments, so the output can
// be pasted into the domain's zone as is.
func FormatZone(w io.Writer, recs []Record) error {
	width := 0
	for _, r := range recs {
		// Commented-out lines (long ip6.arpa names) do not widen the columns.
		if !r.External && r.Value != "" {
			width = max(width, len(r.Name))
		}
	}
	var b strings.Builder
	lastComment := "\x00"
	for _, r := range recs {
		if r.Comment != lastComment {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			if r.Comment != "" {
				b.WriteString("; " + r.Comment + "\n")
			}
			lastComment = r.Comment
		}
		value := r.Value
		switch {
		case r.Value == "":
			value = "<address>"
		case r.Type == "TXT":
			value = quoteTXT(r.Value)
		}
		line := fmt.Sprintf("%-*s %d IN %-5s %s", width, r.Name, r.TTL, r.Type, value)
		if r.External || r.Value == "" {
			line = "; " + line
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
