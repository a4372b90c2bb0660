// Package queue owns outbound delivery: the messages that submission put in
// the store's durable queue (store.QueueItem) are delivered here to the
// remote domains' MX hosts, or to a smarthost, with retries and DSN bounces.
//
// Why it is built this way:
//
//   - The queue itself lives in the store (bbolt + blob files), written in
//     the same transaction that accepted the message, so it survives restart
//     and kill -9 with nothing else to recover. This package only keeps
//     in-memory state for the duration of one delivery round.
//   - At-least-once: an item (or recipient) is removed from the store only
//     after the remote side accepted it or after its bounce was stored. A
//     crash in between re-sends, never loses.
//   - Work is done in rounds: every due item is split by recipient domain;
//     each domain gets one connection reused for all its messages, and at
//     most Options.MaxParallel domains are served at once, so a burst
//     cannot open unbounded connections.
//   - DNS goes through miekg/dns against the configured resolver (dns/dnstest
//     in tests), MX first, then the implicit MX of RFC 5321 §5.1.
//   - Bounces are RFC 3464 multipart/report messages from the null sender,
//     delivered through the same store.Deliver path as any other mail; a
//     message from the null sender is never bounced.
package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"mailsrv/server/config"
	"mailsrv/server/metrics"
	"mailsrv/store"
)

// DefaultMaxParallel is how many domains are delivered to at once.
const DefaultMaxParallel = 8

// idlePoll is the longest the runner sleeps without looking at the queue;
// it bounds how late an item changed behind our back (e.g. by the offline
// CLI) is noticed.
const idlePoll = time.Minute

// Options configure a Runner.
type Options struct {
	Store    *store.Store
	Hostname string // EHLO name, Reporting-MTA and MAILER-DAEMON domain
	Config   config.Outbound
	// Resolver is the DNS server ("host:port") used for MX and address
	// lookups; "" means the first nameserver of /etc/resolv.conf.
	Resolver string
	// ClientTLS overrides the TLS config used for STARTTLS to peers (tests).
	ClientTLS   *tls.Config
	Metrics     *metrics.Metrics
	Log         *slog.Logger
	Now         func() time.Time
	MaxParallel int // 0 = DefaultMaxParallel
}

// Runner delivers the store's outbound queue.
type Runner struct {
	st        *store.Store
	hostname  string
	cfg       config.Outbound
	res       *resolver
	clientTLS *tls.Config
	metrics   *metrics.Metrics
	log       *slog.Logger
	now       func() time.Time
	parallel  int
	wake      chan struct{}
}

// New returns a Runner; call Run to start delivering.
func New(opts Options) *Runner {
	r := &Runner{
		st:        opts.Store,
		hostname:  opts.Hostname,
		cfg:       opts.Config,
		res:       &resolver{server: opts.Resolver},
		clientTLS: opts.ClientTLS,
		metrics:   opts.Metrics,
		log:       opts.Log,
		now:       opts.Now,
		parallel:  opts.MaxParallel,
		wake:      make(chan struct{}, 1),
	}
	if r.res.server == "" {
		r.res.server = systemNameserver()
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.log = r.log.With("component", "queue")
	if r.now == nil {
		r.now = time.Now
	}
	if r.parallel <= 0 {
		r.parallel = DefaultMaxParallel
	}
	if r.hostname == "" {
		r.hostname = "localhost"
	}
	if r.metrics != nil {
		r.metrics.SetQueueSource(r.stats)
	}
	return r
}

// Wake makes the runner look at the queue now (after a new message was
// queued, or `queue retry`). It never blocks.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. Deliveries in progress are interrupted by
// ctx; their items stay queued.
func (r *Runner) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-r.wake:
		}
		next := r.RunOnce(ctx)
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

// RunOnce delivers every due item once and returns the time of the next
// scheduled attempt (zero when the queue is empty).
func (r *Runner) RunOnce(ctx context.Context) time.Time {
	items, err := r.st.Queue()
	if err != nil {
		r.log.Error("reading queue", "err", err)
		return r.now().Add(idlePoll)
	}
	now := r.now()
	var due []*store.QueueItem
	for i := range items {
		if !items[i].NextAttempt.After(now) {
			due = append(due, &items[i])
		}
	}
	if len(due) > 0 {
		r.deliverRound(ctx, due)
	}
	items, err = r.st.Queue()
	if err != nil || len(items) == 0 {
		return time.Time{}
	}
	return items[0].NextAttempt // Queue sorts by next attempt
}

// deliverRound groups due items by domain, delivers the groups with bounded
// parallelism and then records each item's result.
func (r *Runner) deliverRound(ctx context.Context, due []*store.QueueItem) {
	groups := map[string][]job{}
	var order []string
	for _, it := range due {
		byDomain := map[string][]string{}
		var doms []string
		for _, rc := range it.To {
			d := strings.ToLower(store.DomainOf(rc))
			if r.cfg.Relay != "" {
				d = "" // one smarthost connection for everything
			}
			if _, ok := byDomain[d]; !ok {
				doms = append(doms, d)
			}
			byDomain[d] = append(byDomain[d], rc)
		}
		for _, d := range doms {
			if _, ok := groups[d]; !ok {
				order = append(order, d)
			}
			groups[d] = append(groups[d], job{item: it, rcpts: byDomain[d]})
		}
	}
	var (
		mu   sync.Mutex
		outs = map[uint64][]outcome{}
		wg   sync.WaitGroup
		sem  = make(chan struct{}, r.parallel)
	)
	for _, d := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func(d string, jobs []job) {
			defer wg.Done()
			defer func() { <-sem }()
			res := r.deliverDomainSafely(ctx, d, jobs)
			mu.Lock()
			for _, o := range res {
				outs[o.itemID] = append(outs[o.itemID], o)
			}
			mu.Unlock()
		}(d, groups[d])
	}
	wg.Wait()
	for _, it := range due {
		if err := r.finish(it, outs[it.ID]); err != nil {
			r.log.Error("recording delivery result", "queue_id", it.ID, "err", err)
		}
	}
}

// finish applies one round's outcomes to an item: delivered recipients are
// removed, permanent failures bounced, the rest rescheduled or, when too
// old, bounced as expired. The bounce is stored before the item changes, so
// a crash in between duplicates a DSN rather than losing one.
func (r *Runner) finish(it *store.QueueItem, outs []outcome) error {
	now := r.now()
	var perm, temp []outcome
	delivered := map[string]bool{}
	for _, o := range outs {
		switch {
		case o.ok:
			delivered[o.rcpt] = true
			r.metrics.Delivery("sent")
			r.log.Info("delivered", "queue_id", it.ID, "from", it.From, "to", o.rcpt, "mta", o.mta)
		case o.perm:
			perm = append(perm, o)
			r.metrics.Delivery("bounced")
			r.log.Warn("delivery failed permanently", "queue_id", it.ID, "to", o.rcpt, "mta", o.mta, "err", o.msg)
		default:
			temp = append(temp, o)
			r.metrics.Delivery("deferred")
			r.log.Info("delivery deferred", "queue_id", it.ID, "to", o.rcpt, "mta", o.mta, "err", o.msg)
		}
	}
	// Re-read: `queue drop` may have removed the item during the round.
	cur, err := r.st.QueueGet(it.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(perm) > 0 {
		if err := r.bounce(cur, perm, dsnFailed); err != nil {
			return err // item unchanged: retried (and bounced) next round
		}
	}
	done := map[string]bool{}
	for _, o := range perm {
		done[o.rcpt] = true
	}
	for rc := range delivered {
		done[rc] = true
	}
	var rest []string
	for _, rc := range cur.To {
		if !done[rc] {
			rest = append(rest, rc)
		}
	}
	cur.To = rest
	cur.Attempts++
	if len(temp) > 0 {
		cur.LastError = temp[len(temp)-1].msg
	}
	if len(rest) == 0 {
		return r.st.QueueUpdate(cur) // no recipients left: removed
	}
	age := now.Sub(cur.Created)
	if (r.cfg.MaxAge > 0 && age >= r.cfg.MaxAge.D()) || (r.cfg.MaxAttempts > 0 && cur.Attempts >= r.cfg.MaxAttempts) {
		if err := r.bounce(cur, pending(cur, temp), dsnExpired); err != nil {
			return err
		}
		r.log.Warn("giving up on queued message", "queue_id", cur.ID, "age", age.Round(time.Second), "attempts", cur.Attempts)
		return r.st.QueueRemove(cur.ID)
	}
	if r.cfg.WarnAfter > 0 && !cur.Warned && age >= r.cfg.WarnAfter.D() {
		if err := r.bounce(cur, pending(cur, temp), dsnDelayed); err != nil {
			r.log.Warn("sending delay notice", "queue_id", cur.ID, "err", err)
		} else {
			cur.Warned = true
		}
	}
	cur.NextAttempt = now.Add(r.retryDelay(cur.Attempts))
	return r.st.QueueUpdate(cur)
}

// pending returns an outcome for every remaining recipient of it, with the
// last error seen for it this round when there is one.
func pending(it *store.QueueItem, temp []outcome) []outcome {
	last := map[string]outcome{}
	for _, o := range temp {
		last[o.rcpt] = o
	}
	var out []outcome
	for _, rc := range it.To {
		o, ok := last[rc]
		if !ok {
			o = outcome{itemID: it.ID, rcpt: rc, msg: it.LastError}
		}
		out = append(out, o)
	}
	return out
}

// retryDelay is the wait after the n-th attempt: retry_schedule[n-1], the
// last entry repeating.
func (r *Runner) retryDelay(attempts int) time.Duration {
	s := r.cfg.RetrySchedule
	if len(s) == 0 {
		return 5 * time.Minute
	}
	i := min(max(attempts-1, 0), len(s)-1)
	if d := s[i].D(); d > 0 {
		return d
	}
	return time.Second
}

// port is the remote MX port (25 unless configured, e.g. in tests).
func (r *Runner) port() int {
	if r.cfg.Port > 0 {
		return r.cfg.Port
	}
	return 25
}

// stats feeds the queue gauges at scrape time.
func (r *Runner) stats() (int, time.Duration) {
	items, err := r.st.Queue()
	if err != nil || len(items) == 0 {
		return 0, 0
	}
	oldest := items[0].Created
	for _, it := range items {
		if it.Created.Before(oldest) {
			oldest = it.Created
		}
	}
	return len(items), r.now().Sub(oldest)
}

// deliverDomainSafely is deliverDomain with a panic (a bug meeting an
// unusual remote server) turned into a temporary failure of that domain's
// recipients: they are retried, and the other domains and the server go on.
func (r *Runner) deliverDomainSafely(ctx context.Context, domain string, jobs []job) (out []outcome) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("delivery to a domain panicked; deferring its messages", "domain", domain,
				"panic", p, "stack", string(debug.Stack()))
			out = nil
			for _, j := range jobs {
				for _, rc := range j.rcpts {
					out = append(out, outcome{itemID: j.item.ID, rcpt: rc, msg: fmt.Sprintf("internal error: %v", p)})
				}
			}
		}
	}()
	return r.deliverDomain(ctx, domain, jobs)
}
