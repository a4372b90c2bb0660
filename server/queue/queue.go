// Package queue owns outbound delivery: the messages that submission put in
// the store's durable queue (store.QueueItem) are delivered here to the
// remote domains' MX hosts, or to a smarthost, with retries and DSN bounces.
//
// Why it is built this way:
//
//   - The queue itself lives in the store (bbolt + blob files), written in
//     the same transaction that accepted the message, so it survives restart
//     and kill -9 with nothing else to recover. This package only keeps
//     in-memory state for the duration of one delivery attempt.
//   - Several servers may run workers on one engine (PostgreSQL): an item
//     is claimed with a lease written in a write transaction before it is
//     delivered (store.QueueClaim), renewed while it runs and dropped when
//     the outcome is stored, so one message goes out once; a dead server's
//     leases expire (DefaultLease) and another server takes them over.
//   - At-least-once: an item (or recipient) is removed from the store only
//     after the remote side accepted it or after its bounce was stored. A
//     crash in between re-sends, never loses.
//   - Delivery is per destination, without rounds (sched.go): a worker
//     reuses one connection for every waiting message of its domain; at
//     most Options.MaxPerDomain workers per domain and Options.MaxParallel
//     in all, so a burst cannot open unbounded connections and a dead MX
//     delays only its own domain.
//   - Each SMTP stage has its RFC 5321 §4.5.3.2 timeout (Timeouts); a
//     connect or greeting timeout moves on to the next MX host, and only a
//     failed TLS handshake is retried in plain text (deliver.go).
//   - DNS goes through the dns package's client (dns.Client) against the
//     configured resolver (dns/dnstest in tests): MX first, then the
//     implicit MX of RFC 5321 §5.1; a domain with neither bounces at once.
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
	"time"

	"mailsrv/dns"
	"mailsrv/server/config"
	"mailsrv/server/metrics"
	"mailsrv/store"
)

// DefaultMaxParallel is how many deliveries run at once, over all domains.
const DefaultMaxParallel = 8

// DefaultMaxPerDomain is how many deliveries run at once to one domain.
const DefaultMaxPerDomain = 2

// idlePoll is the longest the runner sleeps without looking at the queue;
// it bounds how late an item changed behind our back (e.g. by the offline
// CLI) is noticed.
const idlePoll = time.Minute

// Options configure a Runner.
type Options struct {
	Store    Store
	Hostname string // EHLO name, Reporting-MTA and MAILER-DAEMON domain
	Config   config.Outbound
	// Resolver is the DNS server ("host:port") used for MX and address
	// lookups; "" means the first nameserver of /etc/resolv.conf.
	Resolver string
	// ClientTLS overrides the TLS config used for STARTTLS to peers (tests).
	ClientTLS    *tls.Config
	Metrics      *metrics.Metrics
	Log          *slog.Logger
	Now          func() time.Time
	MaxParallel  int      // 0 = DefaultMaxParallel
	MaxPerDomain int      // 0 = DefaultMaxPerDomain
	Timeouts     Timeouts // zero fields: DefaultTimeouts
	// Lease is how long a claim on an item keeps other servers' workers
	// off it without being renewed (0 = DefaultLease).
	Lease time.Duration
}

// DefaultLease is how long a queue worker's claim on an item lasts unless
// renewed (store.QueueClaim). Running deliveries are renewed when half of
// it is left, at least every idlePoll, so it only matters once a server
// died: its items wait this long before another server takes them over.
const DefaultLease = 10 * time.Minute

// Runner delivers the store's outbound queue.
type Runner struct {
	st        Store
	hostname  string
	cfg       config.Outbound
	dns       *dns.Client
	timeouts  Timeouts
	clientTLS *tls.Config
	metrics   *metrics.Metrics
	log       *slog.Logger
	now       func() time.Time
	parallel  int
	perDomain int
	wake      chan struct{}
	s         *sched
	lease     time.Duration
}

// New returns a Runner; call Run to start delivering.
func New(opts Options) *Runner {
	r := &Runner{
		st:        opts.Store,
		hostname:  opts.Hostname,
		cfg:       opts.Config,
		dns:       &dns.Client{Server: opts.Resolver},
		timeouts:  opts.Timeouts.withDefaults(),
		clientTLS: opts.ClientTLS,
		metrics:   opts.Metrics,
		log:       opts.Log,
		now:       opts.Now,
		parallel:  opts.MaxParallel,
		perDomain: opts.MaxPerDomain,
		wake:      make(chan struct{}, 1),
		s:         newSched(),
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
	if r.perDomain <= 0 {
		r.perDomain = DefaultMaxPerDomain
	}
	if r.lease = opts.Lease; r.lease <= 0 {
		r.lease = DefaultLease
	}
	if r.hostname == "" {
		r.hostname = "localhost"
	}
	if r.metrics != nil {
		// A metrics scrape has no context of its own.
		r.metrics.SetQueueSource(func() (int, time.Duration) { return r.stats(context.Background()) })
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

// finish applies one attempt's outcomes to an item: delivered recipients are
// removed, permanent failures bounced, the rest rescheduled or, when too
// old, bounced as expired. The bounce is stored before the item changes, so
// a crash in between duplicates a DSN rather than losing one.
func (r *Runner) finish(ctx context.Context, it *store.QueueItem, outs []outcome) error {
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
	cur, err := r.st.QueueGet(ctx, it.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// Whatever is written back below ends this server's claim.
	cur.LeaseOwner, cur.LeaseUntil = "", time.Time{}
	if len(perm) > 0 {
		if err := r.bounce(ctx, cur, perm, dsnFailed); err != nil {
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
		return r.st.QueueUpdate(ctx, cur) // no recipients left: removed
	}
	age := now.Sub(cur.Created)
	if (r.cfg.MaxAge > 0 && age >= r.cfg.MaxAge.D()) || (r.cfg.MaxAttempts > 0 && cur.Attempts >= r.cfg.MaxAttempts) {
		if err := r.bounce(ctx, cur, pending(cur, temp), dsnExpired); err != nil {
			return err
		}
		r.log.Warn("giving up on queued message", "queue_id", cur.ID, "age", age.Round(time.Second), "attempts", cur.Attempts)
		return r.st.QueueRemove(ctx, cur.ID)
	}
	if r.cfg.WarnAfter > 0 && !cur.Warned && age >= r.cfg.WarnAfter.D() {
		if err := r.bounce(ctx, cur, pending(cur, temp), dsnDelayed); err != nil {
			r.log.Warn("sending delay notice", "queue_id", cur.ID, "err", err)
		} else {
			cur.Warned = true
		}
	}
	cur.NextAttempt = now.Add(r.retryDelay(cur.Attempts))
	return r.st.QueueUpdate(ctx, cur)
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
func (r *Runner) stats(ctx context.Context) (int, time.Duration) {
	items, err := r.st.Queue(ctx)
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
