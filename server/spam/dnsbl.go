package spam

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// DNSBL lookups (RFC 5782): the client's address, reversed (IPv4 by
// octet, IPv6 by nibble), is looked up as an A record under each zone; any
// answer in 127.0.0.0/8 means listed. Spamhaus-style 127.255.255.x answers
// are error codes (e.g. "query via a public resolver"), not listings.
const (
	// dnsblTimeout bounds the lookups of one client address (all zones are
	// asked in parallel).
	dnsblTimeout = 3 * time.Second
	// dnsblTTL is how long an answer is reused; errors are not kept.
	dnsblTTL = 10 * time.Minute
	// dnsblCacheMax bounds the cache; when full it is emptied.
	dnsblCacheMax = 10_000
)

// IPResolver is the DNS lookup the DNSBL check needs (*net.Resolver and
// msgauth.Resolver satisfy it).
type IPResolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// dnsbl checks client addresses against blocklist zones, with a cache.
type dnsbl struct {
	zones    []string
	resolver IPResolver
	timeout  time.Duration
	now      func() time.Time

	mu    sync.Mutex
	cache map[string]dnsblEntry // ip + " " + zone
}

type dnsblEntry struct {
	listed bool
	until  time.Time
}

// reverseName is the query name of ip under zone.
func reverseName(ip net.IP, zone string) string {
	zone = strings.TrimSuffix(zone, ".")
	if v4 := ip.To4(); v4 != nil {
		return fmt.Sprintf("%d.%d.%d.%d.%s.", v4[3], v4[2], v4[1], v4[0], zone)
	}
	const hex = "0123456789abcdef"
	v6 := ip.To16()
	var b strings.Builder
	for i := len(v6) - 1; i >= 0; i-- {
		b.WriteByte(hex[v6[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[v6[i]>>4])
		b.WriteByte('.')
	}
	return b.String() + zone + "."
}

// result of one zone's lookup.
type zoneResult struct {
	zone   string
	listed bool
	err    error
}

// check returns the first zone (in configured order) that lists ip, and
// the results of every zone (for metrics and logs). A zone that fails or
// times out counts as not listing.
func (d *dnsbl) check(ctx context.Context, ip net.IP) (string, []zoneResult) {
	if len(d.zones) == 0 || ip == nil || ip.To16() == nil {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	results := make([]zoneResult, len(d.zones))
	var wg sync.WaitGroup
	for i, zone := range d.zones {
		results[i].zone = zone
		if listed, ok := d.cached(ip, zone); ok {
			results[i].listed = listed
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i].listed, results[i].err = d.lookup(ctx, ip, zone)
			if results[i].err == nil {
				d.remember(ip, zone, results[i].listed)
			}
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r.listed {
			return r.zone, results
		}
	}
	return "", results
}

func (d *dnsbl) lookup(ctx context.Context, ip net.IP, zone string) (bool, error) {
	addrs, err := d.resolver.LookupIPAddr(ctx, reverseName(ip, zone))
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return false, nil
		}
		return false, err
	}
	for _, a := range addrs {
		v4 := a.IP.To4()
		if v4 != nil && v4[0] == 127 && !(v4[1] == 255 && v4[2] == 255) {
			return true, nil
		}
	}
	return false, nil
}

func (d *dnsbl) cached(ip net.IP, zone string) (listed, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.cache[ip.String()+" "+zone]
	if !ok || d.now().After(e.until) {
		return false, false
	}
	return e.listed, true
}

func (d *dnsbl) remember(ip net.IP, zone string, listed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cache == nil || len(d.cache) >= dnsblCacheMax {
		d.cache = map[string]dnsblEntry{}
	}
	d.cache[ip.String()+" "+zone] = dnsblEntry{listed: listed, until: d.now().Add(dnsblTTL)}
}
