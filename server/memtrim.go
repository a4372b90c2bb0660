package server

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Returning freed memory to the kernel. A login burst leaves tens of MiB of
// argon2id scratch (64 MiB per hash in flight) as free heap; Go's background
// scavenger hands it back only slowly, so an idle server with 200 logged-in
// connections kept ~3× its settled memory for minutes (bench/RESULTS.md,
// PSS per idle connection). memTrim checks every memTrimInterval and, when
// more than memTrimFree bytes of heap are free but still held, returns them
// at once. debug.FreeOSMemory forces a GC, so it runs only then, not on a
// fixed schedule.
const (
	memTrimInterval = 5 * time.Second
	memTrimFree     = 16 << 20
)

const heapFreeMetric = "/memory/classes/heap/free:bytes"

// heldFreeHeap is the heap memory that is free but not yet returned.
func heldFreeHeap() uint64 {
	s := []metrics.Sample{{Name: heapFreeMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// memTrim is a background job (see supervise).
func (s *Server) memTrim(ctx context.Context) { s.trimEvery(ctx, memTrimInterval) }

func (s *Server) trimEvery(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if free := heldFreeHeap(); free > memTrimFree {
			debug.FreeOSMemory()
			s.log.Debug("returned free heap to the OS", "bytes", free)
		}
	}
}
