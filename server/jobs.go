package server

import (
	"context"
	"runtime/debug"
	"time"
)

// housekeepingInterval is how often the recycle bin and orphaned bodies
// are swept. Hourly keeps an item at most an hour past its retention
// without measurable cost.
const housekeepingInterval = time.Hour

// orphanBlobAge is how old an unreferenced body file must be before it is
// removed: far longer than any SMTP DATA or IMAP APPEND can take.
const orphanBlobAge = 24 * time.Hour

// housekeepingStartDelay is how long after the start the first
// housekeeping pass waits: the orphan sweep lists (and stats) every body
// file, which on a large store costs more CPU than the whole start and
// would compete with the first clients' commands (issue 19's cold
// start). Orphans are a day old before they go, so waiting loses nothing.
const housekeepingStartDelay = time.Minute

// housekeeping runs housekeepingStartDelay after the start and then every
// housekeepingInterval: it
// deletes recycle-bin items older than retention.recycle_bin_days, body
// files a crash left without a message (see store.SweepOrphanBlobs), and
// bodies whose delayed removal is due (store.SweepRemovedBlobs; S3 only).
func (s *Server) housekeeping(ctx context.Context) {
	retention := time.Duration(s.cfg.Retention.RecycleBinDays) * 24 * time.Hour
	select {
	case <-ctx.Done():
		return
	case <-time.After(housekeepingStartDelay):
	}
	t := time.NewTicker(housekeepingInterval)
	defer t.Stop()
	for {
		purged, err := s.store.PurgeExpired(ctx, retention)
		if err != nil {
			s.log.Error("recycle bin purge", "err", err)
		}
		for _, it := range purged {
			s.log.Info("recycle bin item purged", "id", it.ID, "kind", it.Kind, "address", it.Address, "deleted_at", it.DeletedAt)
		}
		if n, err := s.store.SweepOrphanBlobs(ctx, orphanBlobAge); err != nil {
			s.log.Error("orphaned message bodies sweep", "err", err)
		} else if n > 0 {
			s.log.Info("removed message bodies left by an interrupted delivery", "count", n)
		}
		if n, err := s.store.SweepRemovedBlobs(ctx); err != nil {
			s.log.Error("removal of expunged message bodies", "err", err)
		} else if n > 0 {
			s.log.Info("removed the bodies of expunged messages after their delay", "count", n, "delay", s.store.BlobRemoveDelay())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// jobRestartDelay is how long a background job that panicked waits before
// it is started again.
const jobRestartDelay = 10 * time.Second

// supervise runs a background job (queue runner, housekeeping) until ctx
// ends. A panic in it is logged with its stack and the job restarted after
// a pause, so a bug in, say, one DSN cannot stop delivery for everybody or
// take the listeners down with it.
func (s *Server) supervise(ctx context.Context, job func(context.Context)) {
	for {
		panicked := func() (panicked bool) {
			defer func() {
				if r := recover(); r != nil {
					s.log.Error("background job panicked; restarting it", "panic", r, "stack", string(debug.Stack()))
					panicked = true
				}
			}()
			job(ctx)
			return false
		}()
		if !panicked {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(jobRestartDelay):
		}
	}
}
