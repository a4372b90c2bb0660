package msgauth

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"
)

// signed returns msg with a DKIM-Signature for d=example.com by a fresh
// key of algo, and the fake DNS publishing that key under selector.
func signed(t *testing.T, f *fakeResolver, algo, selector, m string) string {
	t.Helper()
	kp, err := GenerateKey(algo)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner("example.com", selector, kp.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if s.Algorithm() != algo || s.DNSRecord() != DNSRecord(kp.PublicKey, algo) {
		t.Fatalf("signer algo %q record %q", s.Algorithm(), s.DNSRecord())
	}
	sig, err := s.Sign(strings.NewReader(m))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sig, "DKIM-Signature:") || !strings.HasSuffix(sig, "\r\n") {
		t.Fatalf("signature field %q", sig)
	}
	f.txt[selector+"._domainkey.example.com"] = []string{DNSRecord(kp.PublicKey, algo)}
	return sig + m
}

func TestDKIMPassBothAlgorithms(t *testing.T) {
	for _, algo := range []string{AlgEd25519, AlgRSA} {
		t.Run(algo, func(t *testing.T) {
			f := world(t)
			f.txt["_dmarc.example.com"] = []string{"v=DMARC1; p=reject"}
			m := signed(t, f, algo, "s1", msg("Alice <a@example.com>", "Hello  world \r\n\r\n\r\n", "Content-Type: text/plain"))
			// SPF fails (unauthorised IP), so DMARC can only pass via DKIM.
			res := verify(t, f, Input{RemoteIP: net.ParseIP(badIP), Helo: "h", MailFrom: "a@example.com"}, m)
			if len(res.DKIM) != 1 {
				t.Fatalf("DKIM = %+v", res.DKIM)
			}
			d := res.DKIM[0]
			if d.Result != authres.ResultPass || d.Domain != "example.com" || d.Selector != "s1" {
				t.Fatalf("DKIM = %+v", d)
			}
			if res.DMARC.Result != authres.ResultPass || !res.DMARC.DKIMAligned || res.Action != Accept {
				t.Fatalf("DMARC = %+v action %v", res.DMARC, res.Action)
			}
		})
	}
}

func TestDKIMFailWhenBodyModified(t *testing.T) {
	f := world(t)
	f.txt["_dmarc.example.com"] = []string{"v=DMARC1; p=reject"}
	m := signed(t, f, AlgEd25519, "s1", msg("a@example.com", "Pay 10 EUR\r\n"))
	m = strings.Replace(m, "Pay 10 EUR", "Pay 99 EUR", 1)
	res := verify(t, f, Input{RemoteIP: net.ParseIP(badIP), Helo: "h", MailFrom: "a@example.com"}, m)
	if len(res.DKIM) != 1 || res.DKIM[0].Result != authres.ResultFail {
		t.Fatalf("DKIM = %+v", res.DKIM)
	}
	if res.DMARC.Result != authres.ResultFail || res.Action != Reject {
		t.Fatalf("DMARC = %+v action %v", res.DMARC, res.Action)
	}
}

func TestDKIMOversignedFrom(t *testing.T) {
	f := world(t)
	m := signed(t, f, AlgEd25519, "s1", msg("a@example.com", "x\r\n"))
	// A second From added in transit must break the signature.
	m = "From: attacker@example.com\r\n" + m
	res := verify(t, f, Input{RemoteIP: net.ParseIP(goodIP), Helo: "h", MailFrom: "a@example.com"}, m)
	if len(res.DKIM) != 1 || res.DKIM[0].Result != authres.ResultFail {
		t.Fatalf("DKIM = %+v", res.DKIM)
	}
}

func TestDKIMMissingKeyAndTempError(t *testing.T) {
	f := world(t)
	m := signed(t, f, AlgEd25519, "s1", msg("a@example.com", "x\r\n"))
	in := Input{RemoteIP: net.ParseIP(goodIP), Helo: "h", MailFrom: "a@example.com"}

	f.temp["s1._domainkey.example.com"] = true
	if res := verify(t, f, in, m); res.DKIM[0].Result != authres.ResultTempError {
		t.Fatalf("temp: DKIM = %+v", res.DKIM)
	}
	delete(f.temp, "s1._domainkey.example.com")
	delete(f.txt, "s1._domainkey.example.com")
	if res := verify(t, f, in, m); res.DKIM[0].Result != authres.ResultPermError {
		t.Fatalf("missing key: DKIM = %+v", res.DKIM)
	}
}

func TestDKIMTwoSignatures(t *testing.T) {
	f := world(t)
	m := signed(t, f, AlgEd25519, "ed", msg("a@example.com", "x\r\n"))
	m = signed(t, f, AlgRSA, "rsa", m)
	res := verify(t, f, Input{RemoteIP: net.ParseIP(goodIP), Helo: "h", MailFrom: "a@example.com"}, m)
	if len(res.DKIM) != 2 || res.DKIM[0].Selector != "rsa" || res.DKIM[1].Selector != "ed" {
		t.Fatalf("DKIM = %+v", res.DKIM)
	}
	for _, d := range res.DKIM {
		if d.Result != authres.ResultPass {
			t.Fatalf("DKIM = %+v", res.DKIM)
		}
	}
}

func TestSignErrors(t *testing.T) {
	if _, err := GenerateKey("dsa"); err == nil {
		t.Fatal("GenerateKey(dsa) should fail")
	}
	if _, err := NewSigner("example.com", "s", []byte("not pem")); err == nil {
		t.Fatal("NewSigner with garbage should fail")
	}
	kp, err := GenerateKey(AlgEd25519)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigner("", "s", kp.PrivateKeyPEM); err == nil {
		t.Fatal("NewSigner without domain should fail")
	}
	s, err := NewSigner("example.com", "s", kp.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(strings.NewReader("To: b@x\r\n\r\nbody")); err == nil {
		t.Fatal("signing without From should fail")
	}
	boom := errors.New("boom")
	if _, err := s.Sign(&failAfter{data: "From: a@example.com\r\n\r\nbody", err: boom}); !errors.Is(err, boom) {
		t.Fatalf("Sign read error = %v, want %v", err, boom)
	}
}

// failAfter returns data, then err instead of EOF.
type failAfter struct {
	data string
	err  error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestDNSRecordAndKeyFormats(t *testing.T) {
	kp, err := GenerateKey(AlgEd25519)
	if err != nil {
		t.Fatal(err)
	}
	if got := DNSRecord(kp.PublicKey, kp.Algorithm); got != "v=DKIM1; k=ed25519; p="+kp.PublicKey {
		t.Fatalf("DNSRecord = %q", got)
	}
	if len(kp.PublicKey) != 44 { // base64 of 32 raw bytes
		t.Fatalf("ed25519 p= length %d", len(kp.PublicKey))
	}
	if !strings.Contains(string(kp.PrivateKeyPEM), "BEGIN PRIVATE KEY") {
		t.Fatalf("PEM %q", kp.PrivateKeyPEM)
	}
}
