package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Verifier checks login passwords against stored argon2id hashes and adds
// what a busy server needs on top of VerifyPassword:
//
//   - At most `slots` hashes are computed at once (one per core, at least
//     two). Each costs 19 MiB of scratch, so a burst of 200 logins holds
//     slots×19 MiB instead of 200×19 MiB; the others wait their turn, a few
//     tens of milliseconds each.
//   - Successful verifications are remembered for a while, as Dovecot's
//     auth cache does. Mail clients open many connections with the same
//     credentials (Thunderbird up to five per account, phones reconnect on
//     every network change), and re-running argon2id for each is pure cost:
//     CPU, latency, and idle heap that Go keeps long after. The cache key
//     is an HMAC, under a random per-process key, of the stored hash and
//     the password, so it holds no password, and a changed password (a new
//     hash) never matches an old entry. Failures are never cached: every
//     wrong guess costs a full argon2id and goes through the Throttle.
//
// A Verifier is safe for concurrent use; one is shared by IMAP and
// submission so that a login on one warms the other.
type Verifier struct {
	slots chan struct{}
	key   [32]byte
	ttl   time.Duration
	now   func() time.Time

	mu     sync.Mutex
	recent map[[32]byte]time.Time // HMAC(hash, password) → expiry

	checks atomic.Uint64 // argon2id runs (Verify misses and Dummy), see Checks
}

// Checks is how many argon2id computations ran: real password checks, the
// figure brute-force limits are stated in (metrics, tests).
func (v *Verifier) Checks() uint64 { return v.checks.Load() }

// verifierCacheMax bounds the cache: at most this many (account, password)
// pairs, ~64 bytes each. When full, expired entries are dropped, and if
// none are, the whole cache: the worst case is one argon2id per login.
const verifierCacheMax = 8192

// DefaultVerifyCacheTTL is how long a successful login is remembered.
// Long enough to cover a client's burst of connections and a phone's
// reconnects; short enough that a password typed on a lost device stops
// being a fast path soon (a password change ends it at once anyway).
const DefaultVerifyCacheTTL = 15 * time.Minute

// NewVerifier returns a Verifier remembering successes for ttl (0 disables
// the cache). now is the clock (nil: time.Now), injectable for tests.
func NewVerifier(ttl time.Duration, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	v := &Verifier{
		slots:  make(chan struct{}, max(2, runtime.NumCPU())),
		ttl:    ttl,
		now:    now,
		recent: map[[32]byte]time.Time{},
	}
	if _, err := rand.Read(v.key[:]); err != nil {
		// crypto/rand does not fail on supported platforms (Go 1.24+ it
		// panics itself); without a key the cache would be guessable.
		v.ttl = 0
	}
	return v
}

func (v *Verifier) cacheKey(hash, pw string) [32]byte {
	m := hmac.New(sha256.New, v.key[:])
	m.Write([]byte(hash))
	m.Write([]byte{0})
	m.Write([]byte(pw))
	var k [32]byte
	copy(k[:], m.Sum(nil))
	return k
}

// Verify reports whether pw matches hash, like VerifyPassword.
func (v *Verifier) Verify(hash, pw string) bool {
	var k [32]byte
	if v.ttl > 0 {
		k = v.cacheKey(hash, pw)
		v.mu.Lock()
		exp, ok := v.recent[k]
		v.mu.Unlock()
		if ok && v.now().Before(exp) {
			return true
		}
	}
	v.slots <- struct{}{}
	v.checks.Add(1)
	good := VerifyPassword(hash, pw)
	<-v.slots
	if good && v.ttl > 0 {
		v.remember(k)
	}
	return good
}

// Dummy spends the time of a verification that fails, for unknown login
// names (see DummyVerify), under the same concurrency bound.
func (v *Verifier) Dummy(pw string) {
	v.slots <- struct{}{}
	v.checks.Add(1)
	DummyVerify(pw)
	<-v.slots
}

func (v *Verifier) remember(k [32]byte) {
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.recent) >= verifierCacheMax {
		for key, exp := range v.recent {
			if !now.Before(exp) {
				delete(v.recent, key)
			}
		}
		if len(v.recent) >= verifierCacheMax {
			clear(v.recent)
		}
	}
	v.recent[k] = now.Add(v.ttl)
}
