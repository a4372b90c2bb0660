package auth

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for the limiter.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func TestLimiterBlocksAtLimit(t *testing.T) {
	clk := newClock()
	l := NewFailureLimiter(3, clk.now)
	for i := range 3 {
		if !l.Allowed("ip:1.2.3.4") {
			t.Fatalf("blocked after %d failures", i)
		}
		l.Fail("ip:1.2.3.4")
		clk.advance(time.Second)
	}
	if l.Allowed("ip:1.2.3.4") {
		t.Fatal("allowed after 3 failures with limit 3")
	}
	// Another key is unaffected; a check naming any blocked key fails.
	if !l.Allowed("ip:5.6.7.8", "user:bob@x") {
		t.Error("unrelated keys blocked")
	}
	if l.Allowed("user:bob@x", "ip:1.2.3.4") {
		t.Error("check with one blocked key allowed")
	}
}

func TestLimiterSlidingWindow(t *testing.T) {
	clk := newClock()
	l := NewFailureLimiter(2, clk.now)
	l.Fail("k") // t=0
	clk.advance(40 * time.Second)
	l.Fail("k") // t=40s
	if l.Allowed("k") {
		t.Fatal("allowed with 2 failures in the last minute")
	}
	clk.advance(20 * time.Second) // t=60s: the first failure is exactly a minute old
	if !l.Allowed("k") {
		t.Fatal("still blocked once the first failure left the window")
	}
	l.Fail("k") // t=60s: failures at 40s and 60s
	if l.Allowed("k") {
		t.Fatal("allowed with 2 failures in the last minute (40s, 60s)")
	}
	clk.advance(61 * time.Second)
	if !l.Allowed("k") {
		t.Fatal("blocked after a quiet minute")
	}
}

func TestLimiterSucceedClears(t *testing.T) {
	clk := newClock()
	l := NewFailureLimiter(1, clk.now)
	l.Fail("user:a", "ip:1.1.1.1")
	if l.Allowed("user:a") || l.Allowed("ip:1.1.1.1") {
		t.Fatal("Fail with two keys did not count both")
	}
	l.Succeed("user:a")
	if !l.Allowed("user:a") || l.Allowed("ip:1.1.1.1") {
		t.Error("Succeed cleared the wrong keys")
	}
}

func TestLimiterDisabled(t *testing.T) {
	l := NewFailureLimiter(0, nil)
	for range 100 {
		l.Fail("k")
	}
	if !l.Allowed("k") || l.Len() != 0 {
		t.Error("limit 0 should disable limiting and track nothing")
	}
}

func TestLimiterMemoryBounded(t *testing.T) {
	clk := newClock()
	l := NewFailureLimiter(5, clk.now)
	l.maxKeys = 100
	for i := range 1000 {
		l.Fail(fmt.Sprintf("ip:10.0.%d.%d", i/256, i%256))
	}
	if n := l.Len(); n > 100 {
		t.Errorf("tracking %d keys, max 100", n)
	}
	// Per-key history is capped at the limit however many failures.
	for range 1000 {
		l.Fail("hot")
	}
	l.mu.Lock()
	n := len(l.fails["hot"])
	l.mu.Unlock()
	if n != 5 {
		t.Errorf("hot key keeps %d timestamps, want 5", n)
	}
	// Stale keys are swept once a minute passes.
	clk.advance(2 * time.Minute)
	l.Fail("fresh")
	if n := l.Len(); n != 1 {
		t.Errorf("after sweep %d keys remain, want 1", n)
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := NewFailureLimiter(1000, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				k := fmt.Sprintf("user:%d", i%7)
				l.Allowed(k, "ip:x")
				l.Fail(k, fmt.Sprintf("ip:%d", g))
				if i%50 == 0 {
					l.Succeed(k)
				}
			}
		}()
	}
	wg.Wait()
	if l.Len() == 0 {
		t.Error("no keys tracked after concurrent failures")
	}
}

type strAddr string

func (a strAddr) Network() string { return "tcp" }
func (a strAddr) String() string  { return string(a) }

func TestIPKey(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 4000}, "ip:192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 4000}, "ip:192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 4000}, "ip:2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::1")}, "ip:2001:db8:1:2::/64"},
		{strAddr("198.51.100.1:25"), "ip:198.51.100.1"},
		{strAddr("[2001:db8::1]:25"), "ip:2001:db8::/64"},
		{strAddr("pipe"), "ip:pipe"},
		{nil, "ip:"},
	}
	for _, tt := range tests {
		if got := IPKey(tt.addr); got != tt.want {
			t.Errorf("IPKey(%v) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestUserKey(t *testing.T) {
	if a, b := UserKey(`Alice@Example.com\info@example.com`), UserKey("alice@example.com"); a != b || a != "user:alice@example.com" {
		t.Errorf("UserKey: %q vs %q", a, b)
	}
}
