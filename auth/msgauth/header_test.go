package msgauth

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/authres"
)

func TestAuthResultsHeaderParsesBack(t *testing.T) {
	f := world(t)
	f.txt["_dmarc.example.com"] = []string{"v=DMARC1; p=quarantine"}
	m := signed(t, f, AlgEd25519, "s1", msg("a@example.com", "x\r\n"))
	m = strings.Replace(m, "x\r\n", "y\r\n", 1) // break the body: dkim=fail with a reason
	res := verify(t, f, Input{RemoteIP: net.ParseIP(badIP), Helo: "h", MailFrom: "a@example.com"}, m)

	v := res.AuthResultsHeader("mx.dest.example")
	if strings.ContainsAny(v, "\r\n") {
		t.Fatalf("header value contains a line break: %q", v)
	}
	id, results, err := authres.Parse(v)
	if err != nil {
		t.Fatalf("authres.Parse(%q): %v", v, err)
	}
	if id != "mx.dest.example" || len(results) != 3 {
		t.Fatalf("Parse(%q) = %q, %d results", v, id, len(results))
	}
	spfR, ok := results[0].(*authres.SPFResult)
	if !ok || spfR.Value != authres.ResultFail || spfR.From != "a@example.com" {
		t.Fatalf("spf result %#v in %q", results[0], v)
	}
	dk, ok := results[1].(*authres.DKIMResult)
	if !ok || dk.Value != authres.ResultFail || dk.Domain != "example.com" {
		t.Fatalf("dkim result %#v in %q", results[1], v)
	}
	dm, ok := results[2].(*authres.DMARCResult)
	if !ok || dm.Value != authres.ResultFail || dm.From != "example.com" {
		t.Fatalf("dmarc result %#v in %q", results[2], v)
	}
	if !strings.Contains(v, "header.s=s1") || !strings.Contains(v, "policy.dmarc=quarantine") {
		t.Fatalf("missing selector or policy in %q", v)
	}
	if res.Action != Quarantine {
		t.Fatalf("Action = %v", res.Action)
	}

	// No signature at all: dkim=none, and the null sender reports smtp.helo.
	res = verify(t, f, Input{RemoteIP: net.ParseIP(goodIP), Helo: "mail.example.com"}, msg("a@nodmarc.example", ""))
	v = res.AuthResultsHeader("mx")
	_, results, err = authres.Parse(v)
	if err != nil {
		t.Fatalf("Parse(%q): %v", v, err)
	}
	if dk, ok := results[1].(*authres.DKIMResult); !ok || dk.Value != authres.ResultNone {
		t.Fatalf("want dkim=none in %q", v)
	}
	if s, ok := results[0].(*authres.SPFResult); !ok || s.Helo != "mail.example.com" || s.Value != authres.ResultPass {
		t.Fatalf("want spf=pass smtp.helo in %q", v)
	}
	if strings.Contains(v, " ;") {
		t.Fatalf("untidy header %q", v)
	}
}

func TestReceivedHeader(t *testing.T) {
	date := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	got := ReceivedHeader(ReceivedInfo{
		Helo: "mx.example.org", RDNS: "mx.example.org.", IP: net.ParseIP("192.0.2.1"),
		Hostname: "mail.example.com", TLS: true, ID: "abc123", For: "alice@example.com", Date: date,
	})
	want := "from mx.example.org (mx.example.org [192.0.2.1]) by mail.example.com with ESMTPS id abc123 for <alice@example.com>; Wed, 04 Mar 2026 05:06:07 +0000"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}

	got = ReceivedHeader(ReceivedInfo{
		Helo: "evil\r\nX-Injected: yes (", IP: net.ParseIP("2001:db8::1"),
		Hostname: "mail.example.com", TLS: true, Authenticated: true, Date: date,
	})
	want = "from evilX-Injected:yes ([IPv6:2001:db8::1]) by mail.example.com with ESMTPSA; Wed, 04 Mar 2026 05:06:07 +0000"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestHeaderFieldFolds(t *testing.T) {
	v := strings.Repeat("word ", 40)
	got := HeaderField("Received", v)
	if !strings.HasPrefix(got, "Received: word") || !strings.HasSuffix(got, "\r\n") {
		t.Fatalf("HeaderField = %q", got)
	}
	lines := strings.Split(strings.TrimSuffix(got, "\r\n"), "\r\n")
	if len(lines) < 3 {
		t.Fatalf("not folded: %q", got)
	}
	for i, l := range lines {
		if len(l) > 78 {
			t.Fatalf("line %d too long (%d): %q", i, len(l), l)
		}
		if i > 0 && l[0] != '\t' {
			t.Fatalf("continuation line %d does not start with WSP: %q", i, l)
		}
	}
	// Unfolding restores the words.
	if strings.Join(strings.Fields(got[len("Received:"):]), " ") != strings.TrimSpace(v) {
		t.Fatalf("folding changed content: %q", got)
	}
}

func TestReadHeaderBlock(t *testing.T) {
	long := "X-Long: " + strings.Repeat("z", 100) + "\r\n"
	cases := []struct{ in, hdr, body string }{
		{"A: 1\r\nB: 2\r\n\r\nbody\r\n", "A: 1\r\nB: 2\r\n\r\n", "body\r\n"},
		{"A: 1\n\nbody", "A: 1\n\n", "body"},
		{"A: 1\r\n", "A: 1\r\n\r\n", ""},
		{"A: 1", "A: 1\r\n\r\n", ""},
		{"", "\r\n", ""},
		// Lines longer than the bufio buffer; a long line ending in a
		// blank-looking chunk must not end the header early.
		{long + "\r\nrest", long + "\r\n", "rest"},
	}
	for _, c := range cases {
		br := bufio.NewReaderSize(strings.NewReader(c.in), 16)
		hdr, err := readHeaderBlock(br)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		body, _ := io.ReadAll(br)
		if string(hdr) != c.hdr || string(body) != c.body {
			t.Fatalf("%q: hdr %q body %q, want %q %q", c.in, hdr, body, c.hdr, c.body)
		}
	}
}
