package server

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"
)

var sink []byte

// TestMemTrimReturnsFreedHeap: after a burst of large allocations (what
// concurrent argon2id logins leave behind) the free heap is handed back to
// the kernel within a few intervals instead of being held.
func TestMemTrimReturnsFreedHeap(t *testing.T) {
	for range 8 {
		sink = make([]byte, 8<<20)
		sink[len(sink)-1] = 1
	}
	sink = nil
	runtime.GC()
	held := heldFreeHeap()
	t.Logf("free heap held after the burst: %d MiB", held>>20)
	if held <= memTrimFree {
		t.Skipf("the runtime already returned the burst (%d MiB held), nothing for memTrim to do", held>>20)
	}
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.trimEvery(ctx, 20*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for heldFreeHeap() > memTrimFree {
		if time.Now().After(deadline) {
			t.Fatalf("free heap still held after 5 s: %d MiB", heldFreeHeap()>>20)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
