package dns

import (
	"context"
	"errors"
	"strings"
	"testing"

	"mailsrv/dns/dnstest"
)

// MailHosts and HostAddrs: the outbound queue's view of RFC 5321 §5.1
// (moved here from server/queue with the resolver it tested).
func TestMailHosts(t *testing.T) {
	d := dnstest.StartZones(t, map[string]string{"remote.test": `
$ORIGIN remote.test.
@   3600 IN SOA ns.remote.test. admin.remote.test. 1 3600 600 86400 60
@   3600 IN MX 10 mx.remote.test.
mx  3600 IN A 127.0.0.1
nullmx 60 IN MX 0 .
plain  60 IN A 192.0.2.7
txtonly 60 IN TXT "no mail here"
two 60 IN MX 20 b.remote.test.
two 60 IN MX 10 a.remote.test.
`})
	c := &Client{Server: d.Addr()}
	ctx := context.Background()
	if h, err := c.MailHosts(ctx, "remote.test"); err != nil || len(h) != 1 || h[0] != "mx.remote.test" {
		t.Errorf("MX: %v %v", h, err)
	}
	if h, err := c.MailHosts(ctx, "two.remote.test"); err != nil || strings.Join(h, ",") != "a.remote.test,b.remote.test" {
		t.Errorf("MX preference order: %v %v", h, err)
	}
	if h, err := c.MailHosts(ctx, "plain.remote.test"); err != nil || len(h) != 1 || h[0] != "plain.remote.test" {
		t.Errorf("implicit MX: %v %v", h, err)
	}
	if _, err := c.MailHosts(ctx, "nullmx.remote.test"); !IsPermanent(err) {
		t.Errorf("null MX: %v, want permanent", err)
	}
	if _, err := c.MailHosts(ctx, "missing.remote.test"); !IsPermanent(err) {
		t.Errorf("NXDOMAIN: %v, want permanent", err)
	}
	if _, err := c.MailHosts(ctx, "txtonly.remote.test"); !IsPermanent(err) || !strings.Contains(err.Error(), "neither MX nor A/AAAA") {
		t.Errorf("no MX, no A/AAAA: %v, want permanent", err)
	}
	if a, err := c.HostAddrs(ctx, "plain.remote.test"); err != nil || len(a) != 1 || a[0] != "192.0.2.7" {
		t.Errorf("addrs: %v %v", a, err)
	}
	var pe *PermanentError
	_, err := c.MailHosts(ctx, "missing.remote.test")
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "NXDOMAIN") {
		t.Errorf("error text: %v", err)
	}
	// A server that does not answer is temporary, not a bounce.
	dead := &Client{Server: "127.0.0.1:9", Timeout: 300e6}
	if _, err := dead.MailHosts(ctx, "remote.test"); err == nil || IsPermanent(err) {
		t.Errorf("dead resolver: %v, want a temporary error", err)
	}
}
