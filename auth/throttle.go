package auth

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// Throttle is the one policy against password guessing shared by IMAP,
// submission and the web login (issue 12 #6). It slows an attacker down
// instead of locking an account, so a user is never kept out by someone
// else's guesses:
//
//   - Attempts are counted per network (IPv4 /32, IPv6 /64, see IPKey) and
//     per account on that network. The account is the caller's normalised
//     address (exactly as account lookup normalises it), so "Alice@X.",
//     IDNA and Unicode spellings of one account share a key.
//   - Every attempt reserves a slot before its password is checked; at most
//     perMinute attempts per account and network start in any minute (three
//     times that per network over all accounts). Attempts that are in flight
//     count, so parallel connections do not multiply the rate.
//   - After a failure the next attempt on that key waits a delay that doubles
//     with each failure in a row (1 s, 2 s, 4 s, … capped at 30 s). The
//     network key only starts delaying after perMinute failures, so an
//     office behind one address is not slowed by a few typos.
//   - An attempt that would have to wait longer than MaxThrottleWait (a
//     minute: a client that tries one at a time never does) is
//     refused at once with ErrThrottled (a temporary failure, not a failed
//     login); its password is not checked.
//   - A success forgets the failures of that account on that network only,
//     never the network's: one valid login on a shared address must not
//     hide a guesser. A network that has not been failing is never delayed.
//   - Failures are forgotten after throttleQuiet without one.
//
// A Throttle is safe for concurrent use. The clock and the sleep are
// injectable so tests can measure a minute of brute force in milliseconds.
type Throttle struct {
	perMinute int
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error

	mu      sync.Mutex
	buckets map[string]*bucket
	sweptAt time.Time
}

// Policy constants; see Throttle.
const (
	throttleBase  = time.Second
	throttleCap   = 30 * time.Second
	throttleQuiet = 15 * time.Minute
	// MaxThrottleWait is the longest an attempt waits before it is refused.
	MaxThrottleWait = time.Minute
	// MaxFailuresPerConnection is how many failed logins a connection may
	// make before the server closes it.
	MaxFailuresPerConnection = 3
	throttleMaxKeys          = 65536
)

// ErrThrottled is returned by Throttle.Begin when the attempt would wait
// too long: the client should try again later. It is temporary.
var ErrThrottled = errors.New("auth: too many failed logins from this network, try again later")

type bucket struct {
	starts   []time.Time // start of recent attempts that failed or are in flight, ascending
	streak   int         // failures in a row
	lastFail time.Time
}

// NewThrottle returns the policy allowing perMinute attempts per account
// and network per minute (perMinute ≤ 0 means 10, the SPEC default).
// now and sleep may be nil (real clock, timer sleep).
func NewThrottle(perMinute int, now func() time.Time, sleep func(context.Context, time.Duration) error) *Throttle {
	if perMinute <= 0 {
		perMinute = 10
	}
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return &Throttle{perMinute: perMinute, now: now, sleep: sleep, buckets: map[string]*bucket{}}
}

// Attempt is one reserved login attempt; report its outcome with Done.
type Attempt struct {
	t     *Throttle
	keys  [2]string
	start time.Time
	done  bool
}

// Begin reserves an attempt for account from remote, waiting as the policy
// says (honouring ctx). account must already be normalised; "" (a name that
// does not parse) is counted under one key per network. It returns
// ErrThrottled, or ctx's error, without reserving anything.
func (t *Throttle) Begin(ctx context.Context, remote net.Addr, account string) (*Attempt, error) {
	ip := IPKey(remote)
	keys := [2]string{ip, "acct:" + account + "|" + ip}
	now := t.now()
	t.mu.Lock()
	start := now
	for i, k := range keys {
		limit, free := t.perMinute, 0
		if i == 0 {
			limit, free = 3*t.perMinute, t.perMinute
		}
		if s := t.bucket(k, now).earliest(limit, free); s.After(start) {
			start = s
		}
	}
	if start.Sub(now) > MaxThrottleWait {
		t.mu.Unlock()
		return nil, ErrThrottled
	}
	for _, k := range keys {
		b := t.buckets[k]
		b.starts = append(b.starts, start)
	}
	t.mu.Unlock()
	a := &Attempt{t: t, keys: keys, start: start}
	if wait := start.Sub(now); wait > 0 {
		if err := t.sleep(ctx, wait); err != nil {
			a.Cancel()
			return nil, err
		}
	}
	return a, nil
}

// Done reports the attempt's outcome: ok when the password was right (then
// the account's failures on this network are forgotten), otherwise a
// failure. Calling it twice does nothing.
func (a *Attempt) Done(ok bool) {
	if a == nil || a.done {
		return
	}
	a.done = true
	t := a.t
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, k := range a.keys {
		b := t.buckets[k]
		if b == nil {
			continue
		}
		if ok {
			if i == 1 {
				delete(t.buckets, k)
				continue
			}
			b.remove(a.start)
			continue
		}
		b.streak++
		b.lastFail = now
	}
	if len(t.buckets) > throttleMaxKeys || now.Sub(t.sweptAt) > time.Minute {
		t.sweep(now)
	}
}

// Cancel gives the attempt's slot back without an outcome, for attempts
// that decided nothing (a store error). Done or Cancel: the first counts.
func (a *Attempt) Cancel() {
	if a == nil || a.done {
		return
	}
	a.done = true
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	for _, k := range a.keys {
		if b := a.t.buckets[k]; b != nil {
			b.remove(a.start)
		}
	}
}

// Len is the number of keys tracked (metrics, tests).
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.buckets)
}

func (t *Throttle) bucket(k string, now time.Time) *bucket {
	b := t.buckets[k]
	if b == nil {
		b = &bucket{}
		t.buckets[k] = b
	}
	if b.streak > 0 && now.Sub(b.lastFail) > throttleQuiet {
		b.streak = 0
	}
	return b
}

// earliest is when the next attempt on b may start: after the last one,
// limit per minute, and the doubling delay after more than free failures.
func (b *bucket) earliest(limit, free int) time.Time {
	var s time.Time
	if n := len(b.starts); n > 0 {
		s = b.starts[n-1]
		if n >= limit {
			if w := b.starts[n-limit].Add(time.Minute); w.After(s) {
				s = w
			}
		}
	}
	if k := b.streak - free; k > 0 {
		d := throttleCap
		if k <= 5 {
			d = min(throttleBase<<(k-1), throttleCap)
		}
		if w := b.lastFail.Add(d); w.After(s) {
			s = w
		}
	}
	return s
}

func (b *bucket) remove(start time.Time) {
	for i, s := range b.starts {
		if s.Equal(start) {
			b.starts = append(b.starts[:i], b.starts[i+1:]...)
			return
		}
	}
}

// sweep drops what no longer matters: attempts older than a minute, and
// buckets with neither those nor a live streak; then arbitrary buckets
// while over the cap (the per-account keys still bound each account).
func (t *Throttle) sweep(now time.Time) {
	t.sweptAt = now
	for k, b := range t.buckets {
		i := 0
		for i < len(b.starts) && now.Sub(b.starts[i]) > time.Minute {
			i++
		}
		b.starts = append([]time.Time(nil), b.starts[i:]...)
		if len(b.starts) == 0 && (b.streak == 0 || now.Sub(b.lastFail) > throttleQuiet) {
			delete(t.buckets, k)
		}
	}
	for k := range t.buckets {
		if len(t.buckets) <= throttleMaxKeys {
			break
		}
		delete(t.buckets, k)
	}
}
