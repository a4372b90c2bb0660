package auth

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// limiterWindow is the span over which failures are counted.
const limiterWindow = time.Minute

// defaultMaxKeys bounds how many keys a FailureLimiter tracks. Each key holds
// at most perMinute timestamps, so memory stays at roughly
// maxKeys × perMinute × 24 bytes (≈16 MB at 65536 keys and the default 10).
const defaultMaxKeys = 65536

// FailureLimiter counts failed logins per key over a sliding minute and
// refuses further attempts for a key that reached the limit. Keys are
// free-form; use IPKey and UserKey so SMTP and IMAP count alike. One limiter
// is shared by all listeners. It is safe for concurrent use.
//
// For each key it keeps only the times of the last perMinute failures: the
// key is blocked exactly when the oldest of those is less than a minute old.
// Keys whose failures are all older than a minute are dropped at least once
// a minute. If an attacker spreads failures over more keys than maxKeys
// (IPv6 makes addresses cheap, hence IPKey's /64), arbitrary keys are evicted;
// the user-name key still protects each account.
type FailureLimiter struct {
	limit   int
	now     func() time.Time
	maxKeys int

	mu        sync.Mutex
	fails     map[string][]time.Time // oldest first, len ≤ limit
	lastSweep time.Time
}

// NewFailureLimiter returns a limiter allowing fewer than perMinute failures
// per key per minute. perMinute ≤ 0 disables limiting. now is the clock
// (time.Now when nil); tests pass a fake one.
func NewFailureLimiter(perMinute int, now func() time.Time) *FailureLimiter {
	if now == nil {
		now = time.Now
	}
	return &FailureLimiter{
		limit:   perMinute,
		now:     now,
		maxKeys: defaultMaxKeys,
		fails:   map[string][]time.Time{},
	}
}

// Allowed reports whether an attempt may proceed: false when any of keys
// had perMinute or more failures in the last minute. Check it before
// verifying the password, so a blocked client costs no argon2 time.
func (l *FailureLimiter) Allowed(keys ...string) bool {
	if l.limit <= 0 {
		return true
	}
	cutoff := l.now().Add(-limiterWindow)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		ts := l.fails[k]
		if len(ts) >= l.limit && ts[len(ts)-l.limit].After(cutoff) {
			return false
		}
	}
	return true
}

// Fail records one failed attempt against each of keys.
func (l *FailureLimiter) Fail(keys ...string) {
	if l.limit <= 0 {
		return
	}
	now := l.now()
	cutoff := now.Add(-limiterWindow)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		ts := l.fails[k]
		// Drop expired entries, then keep at most limit of them.
		i := 0
		for i < len(ts) && !ts[i].After(cutoff) {
			i++
		}
		ts = append(ts[i:], now)
		if len(ts) > l.limit {
			ts = ts[len(ts)-l.limit:]
		}
		// Copy when the backing array grew far beyond what is kept, so a
		// long-lived key does not pin an ever-shifting slice.
		if cap(ts) > 2*l.limit {
			ts = append([]time.Time(nil), ts...)
		}
		l.fails[k] = ts
	}
	if len(l.fails) > l.maxKeys || now.Sub(l.lastSweep) >= limiterWindow {
		l.sweep(cutoff)
		l.lastSweep = now
	}
}

// Succeed forgets the failures of keys, e.g. of the user name after a
// correct password. Whether to also clear the IP key is the caller's call
// (clearing it lets one valid account on a shared IP mask a guesser).
func (l *FailureLimiter) Succeed(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.fails, k)
	}
}

// Len returns the number of keys currently tracked (for metrics and tests).
func (l *FailureLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.fails)
}

// sweep drops keys with no failure after cutoff, then evicts arbitrary keys
// (Go's map order) while over maxKeys. l.mu must be held.
func (l *FailureLimiter) sweep(cutoff time.Time) {
	for k, ts := range l.fails {
		if len(ts) == 0 || !ts[len(ts)-1].After(cutoff) {
			delete(l.fails, k)
		}
	}
	for k := range l.fails {
		if len(l.fails) <= l.maxKeys {
			break
		}
		delete(l.fails, k)
	}
}

// IPKey returns the limiter key for a client address: "ip:192.0.2.1" for
// IPv4 and "ip:2001:db8:1:2::/64" for IPv6, since one IPv6 host usually
// owns a whole /64. Addresses it cannot parse give "ip:" + addr.String().
func IPKey(addr net.Addr) string {
	var ap netip.Addr
	switch a := addr.(type) {
	case *net.TCPAddr:
		ap, _ = netip.AddrFromSlice(a.IP)
	case nil:
		return "ip:"
	default:
		s := a.String()
		if host, _, err := net.SplitHostPort(s); err == nil {
			s = host
		}
		var err error
		if ap, err = netip.ParseAddr(s); err != nil {
			return "ip:" + a.String()
		}
	}
	ap = ap.Unmap().WithZone("")
	if !ap.IsValid() {
		return "ip:" + addr.String()
	}
	if ap.Is6() {
		p, _ := ap.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + ap.String()
}

// UserKey returns the limiter key for a login name: "user:" + the name of
// the authenticating user, lower-cased, without any "\mailbox" suffix, so
// that guessing through delegate logins counts against the same user.
func UserKey(login string) string {
	user, _ := ParseLogin(login)
	return "user:" + strings.ToLower(user)
}
