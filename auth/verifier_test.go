package auth

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestVerifierCachesSuccessOnly(t *testing.T) {
	hash, err := HashPassword("right")
	if err != nil {
		t.Fatal(err)
	}
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	v := NewVerifier(time.Minute, clock)

	if v.Verify(hash, "wrong") {
		t.Fatal("wrong password accepted")
	}
	if len(v.recent) != 0 {
		t.Fatal("a failure was cached")
	}
	if !v.Verify(hash, "right") {
		t.Fatal("right password refused")
	}
	// A cached success is fast: far below one argon2id run.
	start := time.Now()
	if !v.Verify(hash, "right") {
		t.Fatal("cached password refused")
	}
	if d := time.Since(start); d > 5*time.Millisecond {
		t.Fatalf("second verify took %v; the cache was not used", d)
	}
	if v.Verify(hash, "wrong") || v.Verify(hash, "righ") || v.Verify(hash, "right ") {
		t.Fatal("a different password matched through the cache")
	}
	// A new hash (password changed to the same or another value) does
	// not match the old entry: the cache key includes the hash.
	hash2, _ := HashPassword("other")
	if v.Verify(hash2, "right") {
		t.Fatal("old password accepted against a new hash")
	}
	// After the TTL the entry is gone and argon2id runs again (still true).
	now.Add(int64(2 * time.Minute))
	k := v.cacheKey(hash, "right")
	if exp := v.recent[k]; clock().Before(exp) {
		t.Fatal("entry not expired after TTL")
	}
	if !v.Verify(hash, "right") {
		t.Fatal("right password refused after expiry")
	}
}

func TestVerifierCacheDisabled(t *testing.T) {
	hash, _ := HashPassword("pw")
	v := NewVerifier(0, nil)
	if !v.Verify(hash, "pw") || v.Verify(hash, "nope") {
		t.Fatal("verify wrong with cache disabled")
	}
	if len(v.recent) != 0 {
		t.Fatal("cache used with ttl 0")
	}
}

// Concurrent verifications never exceed the slot count.
func TestVerifierBoundsConcurrency(t *testing.T) {
	v := NewVerifier(0, nil)
	hash, _ := HashPassword("pw")
	var wg sync.WaitGroup
	var peak, cur atomic.Int32
	stop := make(chan struct{})
	go func() { // sample how many slots are taken
		for {
			select {
			case <-stop:
				return
			default:
			}
			n := int32(len(v.slots))
			cur.Store(n)
			if n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	for i := 0; i < 3*cap(v.slots); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !v.Verify(hash, "pw") {
				t.Error("verify failed")
			}
		}()
	}
	wg.Wait()
	close(stop)
	if p := peak.Load(); p == 0 || int(p) > cap(v.slots) {
		t.Fatalf("peak concurrent hashes %d, slots %d", p, cap(v.slots))
	}
}

func TestVerifierCacheBounded(t *testing.T) {
	v := NewVerifier(time.Hour, nil)
	for i := 0; i < verifierCacheMax+10; i++ {
		var k [32]byte
		k[0], k[1], k[2] = byte(i), byte(i>>8), byte(i>>16)
		v.remember(k)
	}
	if len(v.recent) > verifierCacheMax {
		t.Fatalf("cache grew to %d entries", len(v.recent))
	}
}
