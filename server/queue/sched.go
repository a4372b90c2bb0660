package queue

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"mailsrv/store"
)

// The scheduler delivers per destination, with no round barrier: every
// due item is split into pieces by recipient domain (or one piece for the
// smarthost); a worker takes all waiting pieces of one destination over
// one connection, at most Options.MaxPerDomain workers per destination and
// Options.MaxParallel in all. A worker's end immediately lets the next
// pieces go, so a dead MX that takes minutes to time out holds up only
// its own domain's mail. An item is finished (delivered recipients
// removed, failures bounced, the rest rescheduled) once each of its
// pieces has had its attempt.

// itemState is a queue item whose attempt is in progress.
type itemState struct {
	it      *store.QueueItem
	waiting map[string][]string // destination → recipients not yet handed to a worker
	running int                 // pieces being delivered
	outs    []outcome
}

// sched is the Runner's in-memory delivery state.
type sched struct {
	mu      sync.Mutex
	items   map[uint64]*itemState
	active  map[string]int // destination → workers
	running int
	wg      sync.WaitGroup
	done    chan struct{} // a worker finished (capacity 1)
}

func newSched() *sched {
	return &sched{items: map[uint64]*itemState{}, active: map[string]int{}, done: make(chan struct{}, 1)}
}

// destination of a recipient: its domain, or "" for the smarthost.
func (r *Runner) destination(rcpt string) string {
	if r.cfg.Relay != "" {
		return ""
	}
	return strings.ToLower(store.DomainOf(rcpt))
}

// Run delivers until ctx ends. Deliveries in progress are interrupted by
// ctx; their items stay queued. Run returns after its workers have.
func (r *Runner) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	defer r.s.wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-r.wake:
		case <-r.s.done:
		}
		next := r.dispatch(ctx, nil)
		wait := idlePoll
		if !next.IsZero() {
			wait = min(max(next.Sub(r.now()), 0), idlePoll)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// RunOnce gives every item that is due now one attempt, waits for them and
// returns the time of the next scheduled attempt (zero when the queue is
// empty). Tests and the offline path use it; serve uses Run.
func (r *Runner) RunOnce(ctx context.Context) time.Time {
	tried := map[uint64]bool{}
	first := func(it *store.QueueItem) bool {
		if tried[it.ID] {
			return false
		}
		tried[it.ID] = true
		return true
	}
	for {
		r.dispatch(ctx, first)
		r.s.mu.Lock()
		n := len(r.s.items)
		r.s.mu.Unlock()
		if n == 0 {
			break
		}
		<-r.s.done
	}
	items, err := r.st.Queue(ctx)
	if err != nil || len(items) == 0 {
		return time.Time{}
	}
	return items[0].NextAttempt // Queue sorts by next attempt
}

// dispatch starts attempts for due items (those accept passes, nil = all)
// and hands waiting pieces to workers as capacity allows. It returns the
// next attempt time among idle items (zero if none).
func (r *Runner) dispatch(ctx context.Context, accept func(*store.QueueItem) bool) time.Time {
	items, err := r.st.Queue(ctx)
	if err != nil {
		r.log.Error("reading queue", "err", err)
		return r.now().Add(idlePoll)
	}
	now := r.now()
	s := r.s
	var next time.Time
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	var due, renew []uint64
	s.mu.Lock()
	for i := range items {
		it := &items[i]
		if _, busy := s.items[it.ID]; busy {
			if it.LeaseUntil.Sub(now) < r.lease/2 {
				renew = append(renew, it.ID)
			}
			continue
		}
		if it.NextAttempt.After(now) {
			later(it.NextAttempt)
			continue
		}
		if r.st.LeasedElsewhere(it, now) {
			later(it.LeaseUntil) // take it over if that server is gone
			continue
		}
		if accept != nil && !accept(it) {
			continue
		}
		due = append(due, it.ID)
	}
	s.mu.Unlock()
	r.renew(ctx, renew, now)
	// Claim in one write transaction, so a worker of another server on
	// the same engine does not deliver the same items (store.QueueClaim).
	var claimed []store.QueueItem
	if len(due) > 0 {
		if claimed, err = r.st.QueueClaim(ctx, due, now, r.lease); err != nil {
			r.log.Error("claiming queue items", "err", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range claimed {
		it := &claimed[i]
		st := &itemState{it: it, waiting: map[string][]string{}}
		for _, rc := range it.To {
			d := r.destination(rc)
			st.waiting[d] = append(st.waiting[d], rc)
		}
		s.items[it.ID] = st
	}
	// Oldest item first, so a destination's pieces go in queue order.
	ids := make([]uint64, 0, len(s.items))
	for id := range s.items {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var dests []string
	pieces := map[string][]job{}
	for _, id := range ids {
		st := s.items[id]
		for d, rcpts := range st.waiting {
			if _, ok := pieces[d]; !ok {
				dests = append(dests, d)
			}
			pieces[d] = append(pieces[d], job{item: st.it, rcpts: rcpts})
		}
	}
	sort.Strings(dests)
	for _, d := range dests {
		if s.running >= r.parallel || s.active[d] >= r.perDomain {
			continue
		}
		jobs := pieces[d]
		for _, j := range jobs {
			st := s.items[j.item.ID]
			delete(st.waiting, d)
			st.running++
		}
		s.active[d]++
		s.running++
		s.wg.Add(1)
		go r.work(ctx, d, jobs)
	}
	return next
}

// renew extends the leases of deliveries still running; one that was lost
// (its lease expired and another server took the item) is only logged: the
// attempt in progress finishes, and its outcome is recorded by whoever
// holds the item then.
func (r *Runner) renew(ctx context.Context, ids []uint64, now time.Time) {
	if len(ids) == 0 {
		return
	}
	lost, err := r.st.QueueRenew(ctx, ids, now, r.lease)
	if err != nil {
		r.log.Error("renewing queue leases", "err", err)
	}
	for _, id := range lost {
		r.log.Warn("queue lease lost while delivering", "queue_id", id)
	}
}

// work delivers one destination's pieces and records them.
func (r *Runner) work(ctx context.Context, dest string, jobs []job) {
	defer r.s.wg.Done()
	outs := r.deliverDomainSafely(ctx, dest, jobs)
	byItem := map[uint64][]outcome{}
	for _, o := range outs {
		byItem[o.itemID] = append(byItem[o.itemID], o)
	}
	s := r.s
	s.mu.Lock()
	s.active[dest]--
	if s.active[dest] == 0 {
		delete(s.active, dest)
	}
	s.running--
	var complete []*itemState
	for _, j := range jobs {
		st := s.items[j.item.ID]
		st.outs = append(st.outs, byItem[j.item.ID]...)
		delete(byItem, j.item.ID) // an item has one piece per destination
		st.running--
		if st.running == 0 && len(st.waiting) == 0 {
			complete = append(complete, st)
		}
	}
	s.mu.Unlock()
	// The attempt's outcome is recorded even when shutdown cancelled ctx
	// meanwhile: a delivered recipient must not be sent again.
	rec := context.WithoutCancel(ctx)
	for _, st := range complete {
		if err := r.finish(rec, st.it, st.outs); err != nil {
			r.log.Error("recording delivery result", "queue_id", st.it.ID, "err", err)
		}
		// Only now may the item be picked again: finish rescheduled it.
		s.mu.Lock()
		delete(s.items, st.it.ID)
		s.mu.Unlock()
	}
	select {
	case s.done <- struct{}{}:
	default:
	}
}
