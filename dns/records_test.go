package dns

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"mailsrv/dns/dnstest"
)

// Set UPDATE_GOLDEN=1 to rewrite dns/testdata/*.golden after a deliberate
// change of the output.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestRecordsGolden(t *testing.T) {
	for name, p := range map[string]Params{
		"records.golden": testParams(),
		// No --ip, hostname outside the domain, custom report address.
		"records-noip.golden": {
			Domain: "Example.ORG.", Hostname: "mx.example.com", ReportEmail: "dmarc@example.net",
			DKIM: []DKIMKey{{Selector: "s1", PublicKey: ed25519Key, Algorithm: "ed25519"}},
		},
	} {
		recs, err := Records(p)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := FormatZone(&b, recs); err != nil {
			t.Fatal(err)
		}
		golden(t, name, b.Bytes())
	}
}

func TestRecordsJSON(t *testing.T) {
	recs, err := Records(testParams())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(recs)
	if err != nil {
		t.Fatal(err)
	}
	// TXT values are raw text in JSON, not zone-quoted and split.
	if !strings.Contains(string(b), `{"name":"mail._domainkey.example.com.","ttl":3600,"type":"TXT","value":"v=DKIM1; k=rsa; p=`+rsaKey+`"`) {
		t.Errorf("JSON lacks the raw DKIM record: %s", b)
	}
	if !strings.Contains(string(b), `"type":"PTR","value":"mail.example.com.","comment":"Reverse DNS: set at your hosting provider, not in your zone","external":true`) {
		t.Errorf("JSON lacks the external PTR record: %s", b)
	}
}

// The printed zone is valid zone-file syntax, and serving exactly it (with
// the PTRs the admin sets at the hoster) passes every check: records and
// verify agree on what is correct.
func TestRecordsRoundTrip(t *testing.T) {
	p := testParams()
	recs, err := Records(p)
	if err != nil {
		t.Fatal(err)
	}
	var zone bytes.Buffer
	if err := FormatZone(&zone, recs); err != nil {
		t.Fatal(err)
	}
	s := dnstest.StartZones(t, map[string]string{
		"example.com":               zone.String(),
		"2.0.192.in-addr.arpa":      "10 IN PTR mail.example.com.\n",
		"8.b.d.0.1.0.0.2.ip6.arpa.": "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 IN PTR mail.example.com.\n",
	})
	// The DKIM record is over 255 bytes: it must arrive as several strings.
	m := new(mdns.Msg)
	m.SetQuestion("mail._domainkey.example.com.", mdns.TypeTXT)
	m.SetEdns0(1232, false)
	r, err := mdns.Exchange(m, s.Addr())
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("DKIM query: %v %v", r, err)
	}
	txt := r.Answer[0].(*mdns.TXT).Txt
	if len(txt) != 2 || len(txt[0]) != 255 {
		t.Errorf("DKIM TXT strings have lengths %d", len(txt))
	}

	rep, err := (&Checker{Server: s.Addr(), Timeout: time.Second}).Verify(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Checks {
		if c.Status != StatusOK {
			t.Errorf("%s %s: %s", c.Status, c.Name, c.Message)
		}
	}
}

func TestQuoteTXT(t *testing.T) {
	for in, want := range map[string]string{
		"":                       `""`,
		`a "quoted" \ backslash`: `"a \"quoted\" \\ backslash"`,
		strings.Repeat("x", 255): `"` + strings.Repeat("x", 255) + `"`,
		strings.Repeat("x", 256): `"` + strings.Repeat("x", 255) + `" "x"`,
	} {
		if got := quoteTXT(in); got != want {
			t.Errorf("quoteTXT(%d bytes) = %s, want %s", len(in), got, want)
		}
	}
}

func TestMTASTSPolicy(t *testing.T) {
	p := testParams()
	pol := MTASTSPolicy(p)
	if pol != "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n" {
		t.Errorf("policy = %q", pol)
	}
	id := MTASTSPolicyID(p)
	p.MTASTSMode = "testing"
	if MTASTSPolicyID(p) == id || len(id) != 20 {
		t.Errorf("policy id %q does not follow the policy", id)
	}
	p.MTASTSMode = "bogus"
	if err := p.Validate(); err == nil {
		t.Error("bogus MTA-STS mode accepted")
	}
}

func TestRecordsAddressPlaceholder(t *testing.T) {
	recs, err := Records(Params{Domain: "example.com", Hostname: "mail.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	var spf string
	for _, r := range recs {
		if r.Type == "A" && (r.Value != "" || !r.External) {
			t.Errorf("A without --ip should be an external placeholder: %+v", r)
		}
		if r.Type == "PTR" {
			t.Errorf("PTR without an address: %+v", r)
		}
		if r.Type == "TXT" && r.Name == "example.com." {
			spf = r.Value
		}
	}
	if spf != "v=spf1 mx -all" {
		t.Errorf("SPF without --ip = %q", spf)
	}
}
