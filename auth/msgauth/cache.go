package msgauth

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"time"
)

// CachingResolver remembers answers for a short, fixed time. A burst of
// mail from one domain (a mailing list, a newsletter, a colleague at a
// large provider) asks the same SPF, DMARC and DKIM questions for every
// message; without a cache each costs a round trip to `[dns] resolver`,
// and SPF alone may take ten. net.Resolver does not expose record TTLs, so
// the cache uses one short lifetime for all answers: records change
// rarely, and a minute of staleness is what any caching resolver in front
// of Postfix would give too.
//
// Answers and "no such record" are cached; failures (timeout, SERVFAIL)
// are not, so a resolver hiccup is retried by the next message.
type CachingResolver struct {
	next Resolver
	ttl  time.Duration
	now  func() time.Time

	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
}

type cacheKey struct {
	kind byte // 't' TXT, 'm' MX, 'i' IP, 'p' PTR
	name string
}

type cacheEntry struct {
	expires time.Time
	val     any
	err     error
}

// cacheMaxEntries bounds memory; when full, the cache is emptied (the
// next messages simply ask again).
const cacheMaxEntries = 10000

// NewCachingResolver caches next's answers for ttl. now is the clock (nil:
// time.Now).
func NewCachingResolver(next Resolver, ttl time.Duration, now func() time.Time) *CachingResolver {
	if now == nil {
		now = time.Now
	}
	return &CachingResolver{next: next, ttl: ttl, now: now, entries: map[cacheKey]cacheEntry{}}
}

// lookup answers k from the cache or by calling fetch. Callers get their
// own copy of the slice, so one that sorts or trims it cannot change what
// the next one is told.
func lookup[E any](c *CachingResolver, k cacheKey, fetch func() ([]E, error)) ([]E, error) {
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if ok && c.now().Before(e.expires) {
		v, _ := e.val.([]E)
		return slices.Clone(v), e.err
	}
	v, err := fetch()
	if err == nil || isNotFound(err) {
		c.mu.Lock()
		if len(c.entries) >= cacheMaxEntries {
			clear(c.entries)
		}
		c.entries[k] = cacheEntry{expires: c.now().Add(c.ttl), val: slices.Clone(v), err: err}
		c.mu.Unlock()
	}
	return v, err
}

// isNotFound reports an authoritative "no such name / no such record".
func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound && !de.IsTemporary && !de.IsTimeout
}

func (c *CachingResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return lookup(c, cacheKey{'t', name}, func() ([]string, error) { return c.next.LookupTXT(ctx, name) })
}

func (c *CachingResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return lookup(c, cacheKey{'m', name}, func() ([]*net.MX, error) { return c.next.LookupMX(ctx, name) })
}

func (c *CachingResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	return lookup(c, cacheKey{'i', host}, func() ([]net.IPAddr, error) { return c.next.LookupIPAddr(ctx, host) })
}

func (c *CachingResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return lookup(c, cacheKey{'p', addr}, func() ([]string, error) { return c.next.LookupAddr(ctx, addr) })
}
