package server

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// A job that panics is restarted (after jobRestartDelay, shortened here by
// cancelling): the panic never escapes, and a job that returns normally is
// not restarted.
func TestSuperviseRecoversPanics(t *testing.T) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var runs atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.supervise(ctx, func(context.Context) {
			runs.Add(1)
			panic("job bug")
		})
		close(done)
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("supervise did not return after cancel")
	}
	if runs.Load() != 1 {
		t.Fatalf("job ran %d times before its restart delay, want 1", runs.Load())
	}

	runs.Store(0)
	s.supervise(context.Background(), func(context.Context) { runs.Add(1) })
	if runs.Load() != 1 {
		t.Fatalf("a job that returned was run %d times", runs.Load())
	}
}
