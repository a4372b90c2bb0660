package dns

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"mailsrv/dns/dnstest"
)

const (
	rsaKey     = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA7F8qXpaYvV5PpPxxo03Sk/f0fbRWivvUhpoTOTiNC1DakTLKHw0xql3UCwbmnPHl0rnlUr7rrma8uy+p+sDYsDPWRLH5QjfE8UxnFkniuhbpDTDXamzCD1gBiqhexumRK1J2feStzrXSMPyw2f7SWBywD26ysBlKfEGtushZicq0S8nb7EzS5ljMQleY7QAPYh10YZTG8d23V62s1ATGS/s6fjcIgdy7WXlPdV4bMVsDxWBFqHQf01qIlGu9FBrpjD6HedDZrOW9zoAvGhNefRb2GkJV0HVopAMnVlCljEJMU5oW9xMELO6tAZhbRriYQnAhPBxCVps0y1Ac5WNiKQIDAQAB"
	ed25519Key = "pz92B+HcMTKSj78hICJSKx4SNvLaXKppPsLI0EzAvuo="
	zonesDir   = "../testdata/zones"
)

func testParams() Params {
	return Params{
		Domain:   "example.com",
		Hostname: "mail.example.com",
		IPs:      []net.IP{net.ParseIP("192.0.2.10"), net.ParseIP("2001:db8::10")},
		DKIM: []DKIMKey{
			{Selector: "mail", Algorithm: "rsa", PublicKey: rsaKey},
			{Selector: "ed", Algorithm: "ed25519", PublicKey: ed25519Key},
		},
	}
}

// startFixture serves the example.com zone variant (e.g. "no-mx", "" for
// the good zone) plus the reverse zones; ptr picks the IPv4 reverse variant.
func startFixture(t *testing.T, variant, ptrVariant string) *dnstest.Server {
	t.Helper()
	zone := "example.com.zone"
	if variant != "" {
		zone = "example.com." + variant + ".zone"
	}
	rev := "2.0.192.in-addr.arpa.zone"
	if ptrVariant != "" {
		rev = "2.0.192.in-addr.arpa." + ptrVariant + ".zone"
	}
	return dnstest.Start(t, filepath.Join(zonesDir, zone), filepath.Join(zonesDir, rev),
		filepath.Join(zonesDir, "8.b.d.0.1.0.0.2.ip6.arpa.zone"))
}

func verify(t *testing.T, s *dnstest.Server, p Params) Report {
	t.Helper()
	c := &Checker{Server: s.Addr(), Timeout: 400 * time.Millisecond}
	rep, err := c.Verify(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func find(t *testing.T, rep Report, name string) Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, rep.Checks)
	return Check{}
}

func formatted(t *testing.T, rep Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := FormatReport(&b, rep); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestVerifyGoodZone(t *testing.T) {
	rep := verify(t, startFixture(t, "", ""), testParams())
	out := formatted(t, rep)
	if !rep.OK() {
		t.Fatalf("good zone not OK:\n%s", out)
	}
	for _, c := range rep.Checks {
		if c.Status != StatusOK {
			t.Errorf("check %s = %s: %s", c.Name, c.Status, c.Message)
		}
	}
	want := []string{"MX", "A", "AAAA", "PTR 192.0.2.10", "PTR 2001:db8::10", "SPF", "DKIM mail", "DKIM ed",
		"DMARC", "MTA-STS", "TLS-RPT", "autoconfig", "autodiscover", "SRV"}
	if len(rep.Checks) != len(want) {
		t.Fatalf("got %d checks, want %d:\n%s", len(rep.Checks), len(want), out)
	}
	for i, name := range want {
		if rep.Checks[i].Name != name {
			t.Errorf("check %d = %q, want %q", i, rep.Checks[i].Name, name)
		}
	}
	if n := strings.Count(out, "\n"); n != len(want) {
		t.Errorf("FormatReport wrote %d lines for %d checks:\n%s", n, len(want), out)
	}
	if !strings.Contains(out, "found: 10 mail.example.com.") || strings.Contains(out, "publish:") {
		t.Errorf("ok lines should show found values and no publish hints:\n%s", out)
	}
}

// Each fixture breaks one thing; exactly that check must report it, with
// the record to publish, and the verdict must follow (FAIL => exit 1).
func TestVerifyFailures(t *testing.T) {
	p := testParams()
	recs, err := Records(p)
	if err != nil {
		t.Fatal(err)
	}
	spfLine, dmarcLine, mxLine := "", "", ""
	for _, r := range recs {
		switch {
		case r.Type == "TXT" && strings.HasPrefix(r.Value, "v=spf1"):
			spfLine = r.String()
		case strings.HasPrefix(r.Name, "_dmarc."):
			dmarcLine = r.String()
		case r.Type == "MX":
			mxLine = r.String()
		}
	}
	tests := []struct {
		variant, ptr string
		fault        func(*dnstest.Server)
		check        string
		status       Status
		message      string // substring
		publish      string // substring of the publish hint, "" = none expected
	}{
		{variant: "no-mx", check: "MX", status: StatusFail, message: "record missing: example.com has no MX record (NODATA)", publish: mxLine},
		{variant: "mx-elsewhere", check: "MX", status: StatusFail, message: "no MX of example.com points at mail.example.com", publish: mxLine},
		{variant: "spf-missing", check: "SPF", status: StatusFail, message: "no SPF record", publish: spfLine},
		{variant: "spf-duplicate", check: "SPF", status: StatusFail, message: "2 SPF records", publish: spfLine},
		{variant: "spf-plus-all", check: "SPF", status: StatusFail, message: "+all authorises every host", publish: spfLine},
		{variant: "spf-too-many-lookups", check: "SPF", status: StatusFail, message: "needs 12 DNS lookups, over the limit of 10", publish: spfLine},
		{variant: "dkim-mismatch", check: "DKIM mail", status: StatusFail, message: "does not match the stored key", publish: "mail._domainkey.example.com. 3600 IN TXT \"v=DKIM1; k=rsa; p=MIIB"},
		{variant: "no-dmarc", check: "DMARC", status: StatusFail, message: "_dmarc.example.com does not exist (NXDOMAIN)", publish: dmarcLine},
		{variant: "dmarc-none", check: "DMARC", status: StatusWarn, message: "p=none only monitors", publish: dmarcLine},
		{ptr: "ptr-mismatch", check: "PTR 192.0.2.10", status: StatusFail, message: "does not name mail.example.com", publish: "10.2.0.192.in-addr.arpa. 3600 IN PTR mail.example.com."},
		{
			fault: func(s *dnstest.Server) { s.SetFault("example.com", mdns.TypeMX, dnstest.ServFail) },
			check: "MX", status: StatusFail, message: "your DNS provider did not answer: resolver 127.0.0.1:", publish: mxLine,
		},
		{
			fault: func(s *dnstest.Server) { s.SetFault("example.com", mdns.TypeTXT, dnstest.Timeout) },
			check: "SPF", status: StatusFail, message: "(timeout)", publish: spfLine,
		},
		{
			fault: func(s *dnstest.Server) { s.SetFault("_mta-sts.example.com", 0, dnstest.ServFail) },
			check: "MTA-STS", status: StatusWarn, message: "SERVFAIL", publish: "_mta-sts.example.com. 3600 IN TXT \"v=STSv1; id=",
		},
	}
	for _, tc := range tests {
		name := tc.variant + tc.ptr
		if name == "" {
			name = tc.check + "-" + tc.message
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := startFixture(t, tc.variant, tc.ptr)
			if tc.fault != nil {
				tc.fault(s)
			}
			rep := verify(t, s, p)
			out := formatted(t, rep)
			c := find(t, rep, tc.check)
			if c.Status != tc.status || !strings.Contains(c.Message, tc.message) {
				t.Fatalf("%s = %s %q, want %s containing %q\n%s", tc.check, c.Status, c.Message, tc.status, tc.message, out)
			}
			if !strings.Contains(c.Expected, tc.publish) {
				t.Errorf("expected %q does not contain %q", c.Expected, tc.publish)
			}
			if wantOK := tc.status != StatusFail; rep.OK() != wantOK {
				t.Errorf("OK() = %v, want %v", rep.OK(), wantOK)
			}
			// Everything else in the fixture is intact.
			for _, other := range rep.Checks {
				if other.Name != tc.check && other.Status != StatusOK {
					t.Errorf("unrelated check %s = %s: %s", other.Name, other.Status, other.Message)
				}
			}
			// The report line carries status, name, message and the fix.
			var line string
			for l := range strings.SplitSeq(out, "\n") {
				if strings.HasPrefix(l, string(tc.status)) && strings.Contains(l, " "+tc.check+" ") {
					line = l
				}
			}
			if !strings.Contains(line, tc.message) || !strings.Contains(line, "publish: "+tc.publish) {
				t.Errorf("report line %q lacks message or publish hint", line)
			}
		})
	}
}

// A fixture failing a check that others depend on must not hide the
// dependency's own verdict: the good MX still passes when PTR is broken,
// and a wrong --ip fails A, AAAA, PTR and SPF together.
func TestVerifyWrongIP(t *testing.T) {
	p := testParams()
	p.IPs = []net.IP{net.ParseIP("192.0.2.99")}
	rep := verify(t, startFixture(t, "", ""), p)
	out := formatted(t, rep)
	for name, msg := range map[string]string{
		"A":              "mail.example.com A does not include 192.0.2.99",
		"AAAA":           "has AAAA records but no AAAA address of this server was given",
		"PTR 192.0.2.99": "does not exist (NXDOMAIN)",
		"SPF":            "does not authorise 192.0.2.99 (result fail)",
	} {
		if c := find(t, rep, name); !strings.Contains(c.Message, msg) {
			t.Errorf("%s: %s %q, want %q\n%s", name, c.Status, c.Message, msg, out)
		}
	}
	if find(t, rep, "MX").Status != StatusOK || rep.OK() {
		t.Errorf("want MX ok and overall FAIL:\n%s", out)
	}
}

// Without --ip the checks use what the hostname resolves to.
func TestVerifyWithoutIPs(t *testing.T) {
	p := testParams()
	p.IPs = nil
	rep := verify(t, startFixture(t, "", ""), p)
	if !rep.OK() {
		t.Fatalf("not OK:\n%s", formatted(t, rep))
	}
	find(t, rep, "PTR 192.0.2.10")
	find(t, rep, "PTR 2001:db8::10")
	if c := find(t, rep, "A"); !strings.Contains(c.Message, "not compared") {
		t.Errorf("A: %q", c.Message)
	}
}

// A truncated UDP answer is retried over TCP.
func TestTCPFallback(t *testing.T) {
	s := startFixture(t, "", "")
	s.SetFault("mail._domainkey.example.com", mdns.TypeTXT, dnstest.Truncate)
	rep := verify(t, s, testParams())
	if c := find(t, rep, "DKIM mail"); c.Status != StatusOK {
		t.Fatalf("DKIM over TCP: %s %s", c.Status, c.Message)
	}
}

func TestVerifyRejectsBadParams(t *testing.T) {
	c := &Checker{Server: "127.0.0.1:1"}
	for _, p := range []Params{
		{Hostname: "mail.example.com"},
		{Domain: "example.com"},
		{Domain: "exa mple.com", Hostname: "mail.example.com"},
		{Domain: "example.com", Hostname: "mail.example.com", IPs: []net.IP{nil}},
		{Domain: "example.com", Hostname: "mail.example.com", DKIM: []DKIMKey{{Selector: "s", PublicKey: "!!"}}},
		{Domain: "example.com", Hostname: "mail.example.com", DKIM: []DKIMKey{{Selector: "s", Algorithm: "dsa", PublicKey: "AAAA"}}},
		{Domain: "example.com", Hostname: "mail.example.com", ReportEmail: "nobody"},
	} {
		if _, err := c.Verify(context.Background(), p); err == nil {
			t.Errorf("Verify(%+v): no error", p)
		}
		if _, err := Records(p); err == nil {
			t.Errorf("Records(%+v): no error", p)
		}
	}
}

func TestReportJSON(t *testing.T) {
	rep := Report{Domain: "example.com", Checks: []Check{{Name: "MX", Status: StatusFail, Message: "m"}}}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["ok"] != false || got["domain"] != "example.com" || got["checks"].([]any)[0].(map[string]any)["status"] != "FAIL" {
		t.Fatalf("JSON = %s", b)
	}
}

func TestMXPointsAt(t *testing.T) {
	good := startFixture(t, "", "")
	ctx := context.Background()
	if ok, err := MXPointsAt(ctx, good.Addr(), "example.com", "mail.example.com."); !ok || err != nil {
		t.Errorf("good: %v %v", ok, err)
	}
	if ok, err := MXPointsAt(ctx, good.Addr(), "example.com", "other.example.net"); ok || err != nil {
		t.Errorf("other host: %v %v", ok, err)
	}
	if ok, err := MXPointsAt(ctx, startFixture(t, "no-mx", "").Addr(), "example.com", "mail.example.com"); ok || err != nil {
		t.Errorf("no MX: %v %v", ok, err)
	}
	good.SetFault("example.com", mdns.TypeMX, dnstest.ServFail)
	if _, err := MXPointsAt(ctx, good.Addr(), "example.com", "mail.example.com"); err == nil || !strings.Contains(err.Error(), "SERVFAIL") {
		t.Errorf("SERVFAIL: %v", err)
	}
	if _, err := MXPointsAt(ctx, good.Addr(), "", "mail.example.com"); err == nil {
		t.Error("empty domain: no error")
	}
}

func TestSystemResolverAddr(t *testing.T) {
	dir := t.TempDir()
	for conf, want := range map[string]string{
		"# comment\nsearch example.com\nnameserver 10.0.0.53\nnameserver 10.0.0.54\n": "10.0.0.53:53",
		"nameserver 2001:db8::53\n": "[2001:db8::53]:53",
		"search example.com\n":      "127.0.0.1:53",
	} {
		path := filepath.Join(dir, "resolv.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := resolverFromConf(path); got != want {
			t.Errorf("%q: got %s, want %s", conf, got, want)
		}
	}
	if got := resolverFromConf(filepath.Join(dir, "missing")); got != "127.0.0.1:53" {
		t.Errorf("missing file: %s", got)
	}
	if SystemResolverAddr() == "" {
		t.Error("SystemResolverAddr is empty")
	}
}
