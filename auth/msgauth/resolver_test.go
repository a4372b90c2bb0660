package msgauth

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// startDNS serves zone (name → TXT strings) on 127.0.0.1:0/udp with
// miekg/dns and returns its address.
func startDNS(t *testing.T, zone map[string][]string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		txts, ok := zone[strings.ToLower(q.Name)]
		switch {
		case !ok:
			m.Rcode = mdns.RcodeNameError
		case q.Qtype == mdns.TypeTXT:
			m.Answer = append(m.Answer, &mdns.TXT{
				Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeTXT, Class: mdns.ClassINET, Ttl: 60},
				Txt: txts,
			})
		}
		_ = w.WriteMsg(m)
	})
	started := make(chan struct{})
	srv := &mdns.Server{PacketConn: pc, Handler: mux, NotifyStartedFunc: func() { close(started) }}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestNewResolverUsesGivenServer(t *testing.T) {
	addr := startDNS(t, map[string][]string{
		// Two character-strings in one record: the resolver must join them.
		"sel._domainkey.example.test.": {"v=DKIM1; k=ed25519; ", "p=AAAA"},
	})
	r := NewResolver(addr)
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
