package admin

import (
	"context"
	"sync"
	"time"
)

// Progress is one report of a long operation (backup, mailbox backup):
// over the socket it travels as interim Response lines before the answer.
type Progress struct {
	Op    string `json:"op"`
	Done  int64  `json:"done"`
	Total int64  `json:"total,omitempty"` // 0: unknown
	Unit  string `json:"unit"`
}

// ProgressFunc receives progress reports.
type ProgressFunc func(p Progress)

type progressKey struct{}

// WithProgress returns ctx whose operations report progress to fn.
func WithProgress(ctx context.Context, fn ProgressFunc) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

// progressEvery bounds how often progress is passed on.
const progressEvery = 100 * time.Millisecond

// progressOf returns the reporter of ctx (a no-op without one), throttled
// to one report per progressEvery, the last one (done == total) always.
func progressOf(ctx context.Context) func(op string, done, total int64, unit string) {
	fn, _ := ctx.Value(progressKey{}).(ProgressFunc)
	if fn == nil {
		return func(string, int64, int64, string) {}
	}
	var mu sync.Mutex
	var last time.Time
	return func(op string, done, total int64, unit string) {
		mu.Lock()
		defer mu.Unlock()
		if now := time.Now(); now.Sub(last) >= progressEvery || done == total {
			last = now
			fn(Progress{Op: op, Done: done, Total: total, Unit: unit})
		}
	}
}
