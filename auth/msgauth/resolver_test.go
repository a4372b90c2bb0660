package msgauth

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"mailsrv/dns/dnstest"
)

func TestNewResolverUsesGivenServer(t *testing.T) {
	// Two character-strings in one record: the resolver must join them.
	d := dnstest.StartZones(t, map[string]string{"example.test": `
@              IN SOA ns.example.test. hostmaster.example.test. 1 60 60 60 60
sel._domainkey IN TXT "v=DKIM1; k=ed25519; " "p=AAAA"
`})
	r := NewResolver(d.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	got, err := r.LookupTXT(ctx, "sel._domainkey.example.test")
	if err != nil {
		t.Fatalf("LookupTXT: %v", err)
	}
	if want := []string{"v=DKIM1; k=ed25519; p=AAAA"}; !slices.Equal(got, want) {
		t.Fatalf("LookupTXT = %q, want %q", got, want)
	}

	_, err = r.LookupTXT(ctx, "missing.example.test")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Fatalf("missing name: err = %v, want not-found DNSError", err)
	}
}

func TestNewResolverEmptyIsDefault(t *testing.T) {
	if NewResolver("") != net.DefaultResolver {
		t.Fatal(`NewResolver("") should be net.DefaultResolver`)
	}
}
