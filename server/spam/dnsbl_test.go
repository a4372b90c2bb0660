package spam

import (
	"context"
	"net"
	"testing"
	"time"

	"mailsrv/dns/dnstest"
)

func TestReverseName(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.99":  "99.2.0.192.bl.test.",
		"2001:db8::1": "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test.",
	} {
		if got := reverseName(net.ParseIP(ip), "bl.test."); got != want {
			t.Errorf("%s: %s, want %s", ip, got, want)
		}
	}
}

// Listed and unlisted IPv4 and IPv6 addresses through the in-process DNS
// server; 127.255.255.x answers (Spamhaus' error codes) are not listings.
func TestDNSBLThroughDNS(t *testing.T) {
	soa := "@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
	srv := dnstest.StartZones(t, map[string]string{
		"bl.test": soa + "99.2.0.192 IN A 127.0.0.2\n" +
			"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2 IN A 127.0.0.4\n" +
			"98.2.0.192 IN A 127.255.255.254\n",
	})
	f := New(Options{Config: configWithDNSBL("bl.test"), Resolver: &net.Resolver{PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, srv.Addr())
		}}, DNSBLTimeout: time.Second})
	for ip, want := range map[string]string{
		"192.0.2.99": "bl.test", "2001:db8::1": "bl.test",
		"192.0.2.1": "", "2001:db8::2": "", "192.0.2.98": "",
	} {
		if got := f.CheckClient(context.Background(), net.ParseIP(ip), f.log); got != want {
			t.Errorf("%s: listed by %q, want %q", ip, got, want)
		}
	}
}
