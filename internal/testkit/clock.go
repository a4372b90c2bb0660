package testkit

import (
	"context"
	"sync"
	"time"
)

// Clock is a fake clock for tests, safe for concurrent use: Now returns
// the time it was set to, Add moves it, and Sleep moves it at once instead
// of waiting (recording how long the code under test asked to sleep).
// Its methods fit Options{Now: clk.Now} and auth.Throttle's sleep.
type Clock struct {
	mu    sync.Mutex
	t     time.Time
	slept time.Duration
}

// NewClock returns a Clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Sleep moves the clock by d at once and adds d to Slept. It never fails:
// the context is ignored because no real time passes.
func (c *Clock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept += d
	return nil
}

// Slept is the sum of every Sleep so far.
func (c *Clock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}
