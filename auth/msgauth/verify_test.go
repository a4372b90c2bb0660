package msgauth

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/emersion/go-msgauth/authres"
)

const (
	goodIP = "192.0.2.10"   // authorised by the test SPF records
	badIP  = "198.51.100.7" // authorised nowhere
)

// world is the DNS the verification tests run against.
func world(t *testing.T) *fakeResolver {
	t.Helper()
	f := newFake()
	f.txt["example.com"] = []string{"v=spf1 ip4:192.0.2.0/24 -all"}
	f.txt["mail.example.com"] = []string{"v=spf1 ip4:192.0.2.0/24 -all"}
	f.txt["soft.example"] = []string{"v=spf1 ip4:192.0.2.0/24 ~all"}
	f.txt["example.org"] = []string{"some-verification=abc", "v=spf1 ip4:192.0.2.0/24 -all"}
	f.txt["_dmarc.example.org"] = []string{"v=DMARC1; p=reject"}
	f.txt["quar.example"] = []string{"v=spf1 -all"}
	f.txt["_dmarc.quar.example"] = []string{"v=DMARC1; p=quarantine"}
	return f
}

func msg(from, body string, extra ...string) string {
	h := "From: " + from + "\r\nTo: bob@dest.example\r\nSubject: hello\r\n" +
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\nMessage-ID: <1@x>\r\n"
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h + "\r\n" + body
}

func verify(t *testing.T, r Resolver, in Input, m string) Result {
	t.Helper()
	res, err := NewVerifier(r, "mx.dest.example").Verify(context.Background(), in, strings.NewReader(m))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return res
}

func TestSPF(t *testing.T) {
	f := world(t)
	cases := []struct {
		name     string
		ip       string
		mailFrom string
		helo     string
		want     authres.ResultValue
		identity string
	}{
		{"pass", goodIP, "a@example.com", "mx.example.com", authres.ResultPass, "mailfrom"},
		{"fail", badIP, "a@example.com", "mx.example.com", authres.ResultFail, "mailfrom"},
		{"softfail", badIP, "a@soft.example", "mx.soft.example", authres.ResultSoftFail, "mailfrom"},
		{"none", goodIP, "a@nospf.example", "x.nospf.example", authres.ResultNone, "mailfrom"},
		{"null sender uses helo", goodIP, "", "mail.example.com", authres.ResultPass, "helo"},
		{"second TXT ignored", goodIP, "a@example.org", "mx.example.org", authres.ResultPass, "mailfrom"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := verify(t, f, Input{RemoteIP: net.ParseIP(c.ip), Helo: c.helo, MailFrom: c.mailFrom}, msg("x@nodmarc.example", "hi\r\n"))
			if res.SPF.Result != c.want || res.SPF.Identity != c.identity {
				t.Fatalf("SPF = %+v, want %s via %s", res.SPF, c.want, c.identity)
			}
		})
	}
}

func TestSPFTempError(t *testing.T) {
	f := world(t)
	f.temp["example.com"] = true
	res := verify(t, f, Input{RemoteIP: net.ParseIP(goodIP), Helo: "h", MailFrom: "a@example.com"}, msg("a@example.com", ""))
	if res.SPF.Result != authres.ResultTempError {
		t.Fatalf("SPF = %+v, want temperror", res.SPF)
	}
	if res.Action != Accept {
		t.Fatalf("Action = %v, DNS trouble must not reject", res.Action)
	}
}

func TestDMARCRejectOnSPFFailWithoutDKIM(t *testing.T) {
	res := verify(t, world(t), Input{RemoteIP: net.ParseIP(badIP), Helo: "evil", MailFrom: "a@example.org"}, msg("Boss <boss@example.org>", "pay me\r\n"))
	if res.DMARC.Result != authres.ResultFail || res.DMARC.Policy != "reject" || res.DMARC.FromDomain != "example.org" {
		t.Fatalf("DMARC = %+v", res.DMARC)
	}
	if res.Action != Reject {
		t.Fatalf("Action = %v, want reject", res.Action)
	}
}

func TestDMARCQuarantine(t *testing.T) {
	res := verify(t, world(t), Input{RemoteIP: net.ParseIP(goodIP), Helo: "h", MailFrom: "a@quar.example"}, msg("a@quar.example", "x\r\n"))
	if res.SPF.Result != authres.ResultFail || res.DMARC.Result != authres.ResultFail {
		t.Fatalf("SPF %+v DMARC %+v", res.SPF, res.DMARC)
	}
	if res.Action != Quarantine {
		t.Fatalf("Action = %v, want quarantine", res.Action)
	}
}

func TestDMARCAlignment(t *testing.T) {
	f := world(t)
	f.txt["_dmarc.example.com"] = []string{"v=DMARC1; p=reject"}
	in := Input{RemoteIP: net.ParseIP(goodIP), Helo: "mx", MailFrom: "bounce@mail.example.com"}

	// Relaxed (default): mail.example.com and example.com share the
	// organisational domain.
	res := verify(t, f, in, msg("a@example.com", "x\r\n"))
	if res.SPF.Result != authres.ResultPass || res.DMARC.Result != authres.ResultPass || !res.DMARC.SPFAligned || res.Action != Accept {
		t.Fatalf("relaxed: SPF %+v DMARC %+v action %v", res.SPF, res.DMARC, res.Action)
	}

	// Strict: the same message fails.
	f.txt["_dmarc.example.com"] = []string{"v=DMARC1; p=reject; aspf=s"}
	res = verify(t, f, in, msg("a@example.com", "x\r\n"))
	if res.DMARC.Result != authres.ResultFail || res.DMARC.SPFAligned || res.Action != Reject {
		t.Fatalf("strict: DMARC %+v action %v", res.DMARC, res.Action)
	}

	// Unrelated domain never aligns, even relaxed.
	f.txt["_dmarc.example.com"] = []string{"v=DMARC1; p=reject"}
	f.txt["other.example"] = []string{"v=spf1 ip4:192.0.2.0/24 -all"}
	res = verify(t, f, Input{RemoteIP: net.ParseIP(goodIP), Helo: "mx", MailFrom: "a@other.example"}, msg("a@example.com", "x\r\n"))
	if res.DMARC.Result != authres.ResultFail || res.Action != Reject {
		t.Fatalf("unrelated: DMARC %+v action %v", res.DMARC, res.Action)
	}
}

func TestDMARCSubdomainPolicyAndPct(t *testing.T) {
	f := world(t)
	f.txt["_dmarc.corp.example"] = []string{"v=DMARC1; p=none; sp=reject"}
	in := Input{RemoteIP: net.ParseIP(badIP), Helo: "h", MailFrom: "a@sub.corp.example"}

	res := verify(t, f, in, msg("a@sub.corp.example", ""))
	if res.DMARC.RecordDomain != "corp.example" || res.DMARC.Policy != "reject" || res.Action != Reject {
		t.Fatalf("sp: DMARC %+v action %v", res.DMARC, res.Action)
	}
	// The organisational domain itself gets p=, not sp=.
	res = verify(t, f, in, msg("a@corp.example", ""))
	if res.DMARC.Policy != "none" || res.Action != Accept {
		t.Fatalf("p: DMARC %+v action %v", res.DMARC, res.Action)
	}
	// pct < 100 downgrades one step, deterministically.
	f.txt["_dmarc.corp.example"] = []string{"v=DMARC1; p=reject; pct=50"}
	res = verify(t, f, in, msg("a@corp.example", ""))
	if res.DMARC.Percent != 50 || res.Action != Quarantine {
		t.Fatalf("pct: DMARC %+v action %v", res.DMARC, res.Action)
	}
}

func TestDMARCNoneCases(t *testing.T) {
	f := world(t)
	in := Input{RemoteIP: net.ParseIP(badIP), Helo: "h", MailFrom: "a@example.org"}
	cases := map[string]string{
		"no From":        "To: b@x\r\nSubject: s\r\n\r\nbody",
		"two From":       "From: a@example.org\r\nFrom: b@example.org\r\n\r\nbody",
		"two addresses":  "From: a@example.org, b@example.org\r\n\r\nbody",
		"no record":      "From: a@nodmarc.example\r\n\r\nbody",
		"header only":    "From: a@nodmarc.example",
		"garbage header": "From a@example.org\r\n\r\n",
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			res := verify(t, f, in, m)
			if res.DMARC.Result != authres.ResultNone || res.Action != Accept {
				t.Fatalf("DMARC %+v action %v, want none/accept", res.DMARC, res.Action)
			}
		})
	}
	// Encoded display name in an unknown charset still yields the domain.
	res := verify(t, f, in, msg("=?x-unknown?q?Bo=E9?= <boss@example.org>", ""))
	if res.DMARC.FromDomain != "example.org" || res.Action != Reject {
		t.Fatalf("encoded name: DMARC %+v action %v", res.DMARC, res.Action)
	}
}

func TestDMARCTempAndPermError(t *testing.T) {
	f := world(t)
	in := Input{RemoteIP: net.ParseIP(badIP), Helo: "h", MailFrom: "a@example.org"}
	f.temp["_dmarc.example.org"] = true
	res := verify(t, f, in, msg("a@example.org", ""))
	if res.DMARC.Result != authres.ResultTempError || res.Action != Accept {
		t.Fatalf("temp: DMARC %+v action %v", res.DMARC, res.Action)
	}
	f.temp["_dmarc.example.org"] = false
	f.txt["_dmarc.example.org"] = []string{"v=DMARC1; p=bogus"}
	res = verify(t, f, in, msg("a@example.org", ""))
	if res.DMARC.Result != authres.ResultPermError || res.Action != Accept {
		t.Fatalf("perm: DMARC %+v action %v", res.DMARC, res.Action)
	}
}

func TestVerifyReadErrorAndHugeHeader(t *testing.T) {
	v := NewVerifier(world(t), "mx")
	in := Input{RemoteIP: net.ParseIP(goodIP), Helo: "h", MailFrom: "a@example.com"}
	boom := errors.New("disk gone")
	_, err := v.Verify(context.Background(), in, iotest.ErrReader(boom))
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want read error", err)
	}
	huge := "From: a@example.com\r\nX-Big: " + strings.Repeat("a", MaxHeaderBytes) + "\r\n\r\n"
	_, err = v.Verify(context.Background(), in, strings.NewReader(huge))
	if !errors.Is(err, ErrHeaderTooLarge) {
		t.Fatalf("err = %v, want ErrHeaderTooLarge", err)
	}
}
