package autoreply

import (
	"context"
	"sync"
	"time"
)

// closeGrace is how long Close lets replies in flight finish before it
// cancels their context.
const closeGrace = 2 * time.Second

// inflight tracks the goroutines DeliveredBlob starts, so that shutdown
// waits for them before the store closes (issue 15: every goroutine
// tracked). Its zero value is ready: Responder is built as a literal.
type inflight struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func (f *inflight) init() {
	f.once.Do(func() { f.ctx, f.cancel = context.WithCancel(context.Background()) })
}

// start runs fn in a tracked goroutine with a context that has parent's
// values but not its cancellation, and that Close cancels; after Close it
// runs nothing and returns false.
func (f *inflight) start(parent context.Context, fn func(ctx context.Context)) bool {
	f.init()
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return false
	}
	f.wg.Add(1)
	f.mu.Unlock()
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	stop := context.AfterFunc(f.ctx, cancel)
	go func() {
		defer f.wg.Done()
		defer cancel()
		defer stop()
		fn(ctx)
	}()
	return true
}

// close refuses new goroutines, gives the running ones closeGrace to
// finish, then cancels their context and waits for them.
func (f *inflight) close() {
	f.init()
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeGrace):
		f.cancel()
		<-done
	}
	f.cancel()
}

// Close waits for the automatic replies DeliveredBlob started (cancelling
// them after a short grace) and makes later calls do nothing. The server
// calls it at shutdown, after the sessions ended and before the store
// closes.
func (r *Responder) Close() { r.bg.close() }
