package dns

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
	"golang.org/x/net/publicsuffix"
)

// Checker verifies a domain's records against one DNS server.
type Checker struct {
	// Server is the resolver as "host:port"; "" means SystemResolverAddr().
	Server string
	// Timeout bounds each query; 0 means DefaultTimeout.
	Timeout time.Duration
}

// verifier is the state of one Verify run.
type verifier struct {
	r    *resolver
	p    normalized
	recs []Record
	rep  *Report
}

// Verify runs every check of SPEC §4 for p's domain. The error is only for
// invalid Params; DNS problems are reported as checks.
func (c *Checker) Verify(ctx context.Context, p Params) (Report, error) {
	n, err := p.normalize()
	if err != nil {
		return Report{}, err
	}
	r := newResolver(c.Server, c.Timeout)
	rep := Report{Domain: n.Domain, Hostname: n.Hostname, Resolver: r.server}
	v := &verifier{r: r, p: n, recs: n.records(), rep: &rep}

	v.checkMX(ctx)
	addrs := v.checkAddresses(ctx)
	v.checkPTR(ctx, addrs)
	v.checkSPF(ctx, addrs)
	v.checkDKIM(ctx)
	v.checkDMARC(ctx)
	v.checkMTASTS(ctx)
	v.checkTLSRPT(ctx)
	v.checkAutoconfig(ctx)
	v.checkSRV(ctx)
	return rep, nil
}

func (v *verifier) add(c Check) { v.rep.Checks = append(v.rep.Checks, c) }

// expected returns the zone lines of the generated records matching name
// and type whose value starts with prefix.
func (v *verifier) expected(name, typ, prefix string) string {
	var lines []string
	for _, r := range v.recs {
		if r.Name == name && r.Type == typ && strings.HasPrefix(r.Value, prefix) {
			lines = append(lines, r.String())
		}
	}
	return strings.Join(lines, "\n")
}

func rrValues(rrs []mdns.RR) string {
	var vals []string
	for _, rr := range rrs {
		s := rr.String()
		// Drop "name TTL IN TYPE\t" to keep just the data.
		if f := strings.SplitN(s, "\t", 5); len(f) == 5 {
			s = f[4]
		}
		vals = append(vals, s)
	}
	return strings.Join(vals, ", ")
}

func (v *verifier) checkMX(ctx context.Context) {
	c := Check{Name: "MX", Expected: v.expected(v.p.domainFQDN, "MX", "")}
	a := v.r.query(ctx, v.p.Domain, mdns.TypeMX)
	if a.outcome != found {
		c.Status, c.Message = StatusFail, a.describe()
		v.add(c)
		return
	}
	c.Found = rrValues(a.rrs)
	if len(a.rrs) == 1 && a.rrs[0].(*mdns.MX).Mx == "." {
		c.Status, c.Message = StatusFail, "null MX: "+v.p.Domain+" says it accepts no mail"
		v.add(c)
		return
	}
	for _, rr := range a.rrs {
		if mdns.CanonicalName(rr.(*mdns.MX).Mx) == v.p.hostFQDN {
			c.Status, c.Message = StatusOK, "MX points at "+v.p.Hostname
			v.add(c)
			return
		}
	}
	c.Status, c.Message = StatusFail, "no MX of "+v.p.Domain+" points at "+v.p.Hostname+", so mail goes elsewhere"
	v.add(c)
}

// checkAddresses checks A and AAAA of the hostname and returns the server
// addresses the later checks use: the given IPs, or else what the hostname
// resolves to.
func (v *verifier) checkAddresses(ctx context.Context) []net.IP {
	want4, want6 := splitIPs(v.p.IPs)
	a4 := v.r.query(ctx, v.p.Hostname, mdns.TypeA)
	a6 := v.r.query(ctx, v.p.Hostname, mdns.TypeAAAA)
	known := len(v.p.IPs) > 0
	v.add(v.addressCheck("A", a4, want4, known, a6.outcome == found))
	v.add(v.addressCheck("AAAA", a6, want6, known, true))
	if known {
		return v.p.IPs
	}
	var out []net.IP
	for _, ad := range append(addrsOf(a4), addrsOf(a6)...) {
		out = append(out, ad.IP)
	}
	return out
}

// addressCheck compares one address family. known says whether the
// server's addresses were given at all; otherAnswered is whether the other
// family resolved (a host needs at least one address).
func (v *verifier) addressCheck(typ string, a answer, want []net.IP, known, otherAnswered bool) Check {
	c := Check{Name: typ, Expected: v.expected(v.p.hostFQDN, typ, "")}
	var got []net.IP
	for _, ad := range addrsOf(a) {
		got = append(got, ad.IP)
	}
	c.Found = joinIPs(got)
	switch {
	case a.outcome == servfail || a.outcome == timeout || a.outcome == failed:
		c.Status, c.Message = StatusFail, a.describe()
	case len(want) > 0:
		var missing []net.IP
		for _, w := range want {
			if !containsIP(got, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) > 0 {
			msg := a.describe()
			if a.outcome == found {
				msg = fmt.Sprintf("%s %s does not include %s", v.p.Hostname, typ, joinIPs(missing))
			}
			c.Status, c.Message = StatusFail, msg
			break
		}
		c.Status, c.Message = StatusOK, v.p.Hostname+" resolves to this server"
		var extra []net.IP
		for _, g := range got {
			if !containsIP(want, g) {
				extra = append(extra, g)
			}
		}
		if len(extra) > 0 {
			c.Status = StatusWarn
			c.Message = fmt.Sprintf("%s also resolves to %s, which is not this server", v.p.Hostname, joinIPs(extra))
		}
	case a.outcome == found && known:
		c.Status = StatusWarn
		c.Message = fmt.Sprintf("%s has %s records but no %s address of this server was given (--ip); remove them or add the address", v.p.Hostname, typ, typ)
	case a.outcome == found:
		c.Status, c.Message = StatusOK, v.p.Hostname+" resolves (not compared: no --ip given)"
	case known || otherAnswered:
		c.Status, c.Message, c.Expected = StatusOK, fmt.Sprintf("no %s record (none expected)", typ), ""
	default:
		c.Status, c.Message = StatusFail, a.describe()+"; "+v.p.Hostname+" has no address at all"
	}
	return c
}

func containsIP(ips []net.IP, ip net.IP) bool {
	return slices.ContainsFunc(ips, ip.Equal)
}

func joinIPs(ips []net.IP) string {
	var s []string
	for _, ip := range ips {
		s = append(s, ip.String())
	}
	return strings.Join(s, ", ")
}

// checkPTR checks forward-confirmed reverse DNS of every server address.
func (v *verifier) checkPTR(ctx context.Context, addrs []net.IP) {
	if len(addrs) == 0 {
		v.add(Check{Name: "PTR", Status: StatusWarn, Message: "skipped: no server address known; pass --ip"})
		return
	}
	for _, ip := range addrs {
		arpa, err := mdns.ReverseAddr(ip.String())
		if err != nil {
			continue
		}
		c := Check{
			Name:     "PTR " + ip.String(),
			Expected: fmt.Sprintf("%s %d IN PTR %s", arpa, DefaultTTL, v.p.hostFQDN),
		}
		a := v.r.query(ctx, arpa, mdns.TypePTR)
		if a.outcome != found {
			c.Status, c.Message = StatusFail, a.describe()+"; set reverse DNS at your hosting provider"
			v.add(c)
			continue
		}
		c.Found = rrValues(a.rrs)
		match := slices.ContainsFunc(a.rrs, func(rr mdns.RR) bool {
			return mdns.CanonicalName(rr.(*mdns.PTR).Ptr) == v.p.hostFQDN
		})
		if !match {
			c.Status = StatusFail
			c.Message = fmt.Sprintf("PTR of %s does not name %s; change reverse DNS at your hosting provider", ip, v.p.Hostname)
			v.add(c)
			continue
		}
		// Forward confirmation: the name must resolve back to the address.
		qt := mdns.TypeAAAA
		if ip.To4() != nil {
			qt = mdns.TypeA
		}
		fwd := v.r.query(ctx, v.p.Hostname, qt)
		var back []net.IP
		for _, ad := range addrsOf(fwd) {
			back = append(back, ad.IP)
		}
		if !containsIP(back, ip) {
			c.Status = StatusFail
			c.Message = fmt.Sprintf("PTR names %s but %s does not resolve back to %s (not forward-confirmed)", v.p.Hostname, v.p.Hostname, ip)
			c.Expected = v.expected(v.p.hostFQDN, mdns.TypeToString[qt], ip.String())
			v.add(c)
			continue
		}
		c.Status, c.Message = StatusOK, "reverse DNS names "+v.p.Hostname+" (forward-confirmed)"
		v.add(c)
	}
}

// parseTags splits a DKIM/DMARC-style "k=v; k=v" record. Keys are
// lower-cased; values keep their case but lose surrounding space.
func parseTags(rec string) (keys []string, tags map[string]string) {
	tags = make(map[string]string)
	for part := range strings.SplitSeq(rec, ";") {
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		keys = append(keys, k)
		tags[k] = strings.TrimSpace(val)
	}
	return keys, tags
}

func (v *verifier) checkDKIM(ctx context.Context) {
	if len(v.p.DKIM) == 0 {
		v.add(Check{Name: "DKIM", Status: StatusWarn, Message: "no DKIM key stored for " + v.p.Domain + "; outgoing mail is not signed"})
		return
	}
	for _, k := range v.p.DKIM {
		name := k.Selector + "._domainkey." + v.p.domainFQDN
		c := Check{Name: "DKIM " + k.Selector, Expected: v.expected(name, "TXT", "")}
		a := v.r.query(ctx, name, mdns.TypeTXT)
		if a.outcome != found {
			c.Status, c.Message = StatusFail, a.describe()
			v.add(c)
			continue
		}
		txts := a.txts()
		c.Found = strings.Join(txts, "\n")
		if len(txts) > 1 {
			c.Status, c.Message = StatusFail, fmt.Sprintf("%d TXT records at %s; verifiers need exactly one", len(txts), strings.TrimSuffix(name, "."))
			v.add(c)
			continue
		}
		_, tags := parseTags(txts[0])
		alg := strings.ToLower(tags["k"])
		if alg == "" {
			alg = "rsa"
		}
		pub, hasP := tags["p"]
		pub = stripSpace(pub)
		switch {
		case tags["v"] != "" && tags["v"] != "DKIM1":
			c.Status, c.Message = StatusFail, "record does not start with v=DKIM1"
		case !hasP:
			c.Status, c.Message = StatusFail, "record has no p= tag"
		case pub == "":
			c.Status, c.Message = StatusFail, "key is revoked (empty p=)"
		case alg != k.Algorithm:
			c.Status, c.Message = StatusFail, fmt.Sprintf("published key type k=%s, stored key is %s", alg, k.Algorithm)
		case pub != k.PublicKey:
			c.Status, c.Message = StatusFail, "published key does not match the stored key; signatures will fail"
		default:
			c.Status, c.Message = StatusOK, "public key matches the stored key"
		}
		v.add(c)
	}
}

// dmarcRecords returns the v=DMARC1 records among TXT strings.
func dmarcRecords(txts []string) []string {
	var out []string
	for _, t := range txts {
		if k, val, ok := strings.Cut(strings.TrimSpace(t), "="); ok && strings.EqualFold(strings.TrimSpace(k), "v") &&
			strings.HasPrefix(strings.TrimSpace(val), "DMARC1") {
			out = append(out, t)
		}
	}
	return out
}

func (v *verifier) checkDMARC(ctx context.Context) {
	c := Check{Name: "DMARC", Expected: v.expected("_dmarc."+v.p.domainFQDN, "TXT", "")}
	a := v.r.query(ctx, "_dmarc."+v.p.Domain, mdns.TypeTXT)
	if !a.missing() && a.outcome != found {
		c.Status, c.Message = StatusFail, a.describe()
		v.add(c)
		return
	}
	recs := dmarcRecords(a.txts())
	inherited := ""
	// RFC 7489 §6.6.3: without a record, receivers use the organisational
	// domain's policy.
	if len(recs) == 0 {
		if org, err := publicsuffix.EffectiveTLDPlusOne(v.p.Domain); err == nil && org != v.p.Domain {
			oa := v.r.query(ctx, "_dmarc."+org, mdns.TypeTXT)
			if or := dmarcRecords(oa.txts()); len(or) > 0 {
				recs, inherited = or, " (inherited from "+org+")"
			}
		}
	}
	c.Found = strings.Join(recs, "\n")
	if len(recs) == 0 {
		msg := "no DMARC record"
		if a.missing() {
			msg = a.describe()
		}
		c.Status, c.Message = StatusFail, msg
		v.add(c)
		return
	}
	if len(recs) > 1 {
		c.Status, c.Message = StatusFail, fmt.Sprintf("%d DMARC records; receivers ignore all of them", len(recs))
		v.add(c)
		return
	}
	keys, tags := parseTags(recs[0])
	policy := strings.ToLower(tags["p"])
	if inherited != "" && tags["sp"] != "" {
		policy = strings.ToLower(tags["sp"])
	}
	switch {
	case len(keys) < 2 || keys[0] != "v" || keys[1] != "p":
		c.Status, c.Message = StatusFail, "record does not parse: it must start with v=DMARC1; p="
	case policy != "none" && policy != "quarantine" && policy != "reject":
		c.Status, c.Message = StatusFail, fmt.Sprintf("record does not parse: policy %q is not none, quarantine or reject", policy)
	case policy == "none":
		c.Status, c.Message = StatusWarn, "p=none only monitors"+inherited+"; switch to quarantine or reject once reports look clean"
	default:
		c.Status, c.Message = StatusOK, "policy "+policy+inherited
	}
	v.add(c)
}

// warnCheck turns an answer of a recommended (not required) record into a
// Check: missing or unanswered is a warning, never a FAIL.
func (v *verifier) warnCheck(name, expected string, a answer, valid func(string) bool, what string) {
	c := Check{Name: name, Expected: expected}
	if a.outcome != found {
		c.Status, c.Message = StatusWarn, a.describe()
		v.add(c)
		return
	}
	var good []string
	for _, t := range a.txts() {
		if valid(t) {
			good = append(good, t)
		}
	}
	c.Found = strings.Join(a.txts(), "\n")
	switch len(good) {
	case 0:
		c.Status, c.Message = StatusWarn, "no valid "+what+" record"
	case 1:
		c.Status, c.Message = StatusOK, what+" record published"
	default:
		c.Status, c.Message = StatusWarn, fmt.Sprintf("%d %s records; there must be exactly one", len(good), what)
	}
	v.add(c)
}

func (v *verifier) checkMTASTS(ctx context.Context) {
	name := "_mta-sts." + v.p.domainFQDN
	a := v.r.query(ctx, name, mdns.TypeTXT)
	v.warnCheck("MTA-STS", v.expected(name, "TXT", ""), a, func(t string) bool {
		_, tags := parseTags(t)
		id := tags["id"]
		return tags["v"] == "STSv1" && id != "" && len(id) <= 32 && isAlnum(id)
	}, "MTA-STS")
	// The policy host must resolve, or senders cannot fetch the policy.
	last := &v.rep.Checks[len(v.rep.Checks)-1]
	if last.Status == StatusOK && !v.resolves(ctx, "mta-sts."+v.p.Domain) {
		last.Status = StatusWarn
		last.Message = "mta-sts." + v.p.Domain + " does not resolve, so senders cannot fetch the policy"
		last.Expected = v.expected("mta-sts."+v.p.domainFQDN, "CNAME", "")
	}
}

func isAlnum(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (v *verifier) checkTLSRPT(ctx context.Context) {
	name := "_smtp._tls." + v.p.domainFQDN
	a := v.r.query(ctx, name, mdns.TypeTXT)
	v.warnCheck("TLS-RPT", v.expected(name, "TXT", ""), a, func(t string) bool {
		keys, tags := parseTags(t)
		return len(keys) > 0 && keys[0] == "v" && tags["v"] == "TLSRPTv1" && tags["rua"] != ""
	}, "TLS-RPT")
}

// resolves reports whether name has an A or AAAA record (through CNAMEs).
func (v *verifier) resolves(ctx context.Context, name string) bool {
	return v.r.query(ctx, name, mdns.TypeA).outcome == found || v.r.query(ctx, name, mdns.TypeAAAA).outcome == found
}

func (v *verifier) checkAutoconfig(ctx context.Context) {
	for _, label := range []string{"autoconfig", "autodiscover"} {
		name := label + "." + v.p.Domain
		c := Check{Name: label, Expected: v.expected(name+".", "CNAME", "")}
		if v.resolves(ctx, name) {
			c.Status, c.Message = StatusOK, name+" resolves"
		} else {
			a := v.r.query(ctx, name, mdns.TypeA)
			c.Status, c.Message = StatusWarn, a.describe()+"; mail clients cannot configure themselves"
		}
		v.add(c)
	}
}

// checkSRV checks the RFC 6186/8314 records for submission and IMAP.
func (v *verifier) checkSRV(ctx context.Context) {
	c := Check{Name: "SRV"}
	var missing, wrong, foundVals []string
	var expected []string
	for _, s := range srvServices {
		if s.port == 0 || s.name == "autodiscover" {
			continue // informational records, not required for discovery
		}
		name := "_" + s.name + "._tcp." + v.p.domainFQDN
		a := v.r.query(ctx, name, mdns.TypeSRV)
		if a.outcome != found {
			missing = append(missing, "_"+s.name+"._tcp")
			expected = append(expected, v.expected(name, "SRV", ""))
			continue
		}
		foundVals = append(foundVals, "_"+s.name+"._tcp: "+rrValues(a.rrs))
		ok := slices.ContainsFunc(a.rrs, func(rr mdns.RR) bool {
			return mdns.CanonicalName(rr.(*mdns.SRV).Target) == v.p.hostFQDN
		})
		if !ok {
			wrong = append(wrong, "_"+s.name+"._tcp")
			expected = append(expected, v.expected(name, "SRV", ""))
		}
	}
	c.Found = strings.Join(foundVals, "\n")
	c.Expected = strings.Join(expected, "\n")
	switch {
	case len(missing) > 0:
		c.Status, c.Message = StatusWarn, "missing RFC 6186 service records: "+strings.Join(missing, ", ")
	case len(wrong) > 0:
		c.Status, c.Message = StatusWarn, "service records not pointing at "+v.p.Hostname+": "+strings.Join(wrong, ", ")
	default:
		c.Status, c.Message = StatusOK, "submission and IMAP service records point at "+v.p.Hostname
	}
	v.add(c)
}
