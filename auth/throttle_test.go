package auth

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"mailsrv/internal/testkit"
)

func tcp(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 1234} }

// maxPerMinute is the most attempts starting within any 60 s window.
func maxPerMinute(starts []time.Time) int {
	best := 0
	for i := range starts {
		n := 0
		for j := i; j < len(starts) && starts[j].Sub(starts[i]) < time.Minute; j++ {
			n++
		}
		best = max(best, n)
	}
	return best
}

func TestThrottleSlowsBruteForceNotOthers(t *testing.T) {
	c := testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	th := NewThrottle(10, c.Now, c.Sleep)
	var starts []time.Time
	refused := 0
	for range 200 {
		a, err := th.Begin(t.Context(), tcp("192.0.2.1"), "alice@example.com")
		if errors.Is(err, ErrThrottled) {
			refused++
			c.Sleep(nil, time.Second) // the client retries a little later
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		starts = append(starts, c.Now())
		a.Done(false)
	}
	if n := maxPerMinute(starts); n > 10 {
		t.Errorf("%d attempts within one minute, limit 10", n)
	}
	if elapsed := c.Now().Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); len(starts) > int(elapsed/time.Minute+1)*10 {
		t.Errorf("%d attempts in %v", len(starts), elapsed)
	}
	t.Logf("%d checks, %d refused, over %v of clock", len(starts), refused, c.Now().Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	// Same account from another network: at once. IPv6 /64 neighbours of a
	// failing address are the same network, other /64s are not.
	before := c.Now()
	a, err := th.Begin(t.Context(), tcp("198.51.100.7"), "alice@example.com")
	if err != nil || !c.Now().Equal(before) {
		t.Fatalf("other network delayed or refused: %v after %v", err, c.Now().Sub(before))
	}
	a.Done(true)
	// A success of another account on the failing network clears nothing.
	b, err := th.Begin(t.Context(), tcp("192.0.2.1"), "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	b.Done(true)
	th.mu.Lock()
	kept := th.buckets["acct:alice@example.com|ip:192.0.2.1"]
	ipKept := th.buckets["ip:192.0.2.1"]
	th.mu.Unlock()
	if kept == nil || kept.streak < 100 || ipKept == nil || ipKept.streak < 100 {
		t.Errorf("failures forgotten after another key's success: account %+v, network %+v", kept, ipKept)
	}
}

func TestThrottleParallelAttemptsShareTheRate(t *testing.T) {
	c := testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	th := NewThrottle(10, c.Now, func(context.Context, time.Duration) error { return nil })
	var starts []time.Time
	for range 50 { // 50 connections start together, none finished yet
		a, err := th.Begin(t.Context(), tcp("2001:db8:1:2::5"), "alice@example.com")
		if err != nil {
			continue
		}
		starts = append(starts, a.start)
	}
	if n := maxPerMinute(starts); n > 10 {
		t.Errorf("%d parallel attempts scheduled within a minute, limit 10", n)
	}
	// Another host of the same /64 is the same network.
	a, err := th.Begin(t.Context(), tcp("2001:db8:1:2::99"), "alice@example.com")
	if err == nil && !a.start.After(c.Now()) {
		t.Error("same /64 not throttled")
	}
}

func TestThrottleCorrectPasswordAfterTyposIsNotRefused(t *testing.T) {
	c := testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	th := NewThrottle(10, c.Now, c.Sleep)
	for range 3 {
		a, err := th.Begin(t.Context(), tcp("192.0.2.1"), "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		a.Done(false)
	}
	a, err := th.Begin(t.Context(), tcp("192.0.2.1"), "alice@example.com")
	if err != nil {
		t.Fatalf("right password after 3 typos refused: %v", err)
	}
	a.Done(true)
	before := c.Now()
	a, _ = th.Begin(t.Context(), tcp("192.0.2.1"), "alice@example.com")
	if !c.Now().Equal(before) {
		t.Errorf("success did not clear the account's own failures")
	}
	a.Done(true)
}

func TestThrottleCancelReturnsTheSlot(t *testing.T) {
	c := testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	th := NewThrottle(2, c.Now, c.Sleep)
	for range 20 {
		a, err := th.Begin(t.Context(), tcp("192.0.2.1"), "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		a.Cancel()
	}
	if !c.Now().Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("cancelled attempts (store errors) delayed later ones by %v", c.Now().Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
	}
}
