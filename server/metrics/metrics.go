// Package metrics owns mailsrv's Prometheus instrumentation: a small, fixed
// set of collectors that the protocol packages (smtpd, imapd, queue) feed
// through plain method calls, and the /metrics handler that exposes them.
//
// Design decisions:
//
//   - Every Metrics value has its OWN *prometheus.Registry. Nothing is
//     registered on the global default registry, so tests can start many
//     servers in one process without "duplicate metrics collector" panics,
//     and there is no package-level mutable state.
//   - Every method is safe on a nil *Metrics and then does nothing, so
//     protocol code and its tests can hold a nil *Metrics instead of
//     threading a fake through.
//   - Label values that come from the network (IMAP command names) are
//     mapped onto a closed set before use; an attacker must not be able to
//     grow the time-series set without bound. Labels chosen by our own code
//     (protocol, listener, reason, result) are passed through as is.
package metrics

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "mailsrv"

// Metrics holds the collectors. The zero value is not usable; use New. A nil
// *Metrics is valid and ignores every call.
type Metrics struct {
	reg *prometheus.Registry

	connsTotal   *prometheus.CounterVec
	connsOpen    *prometheus.GaugeVec
	accepted     *prometheus.CounterVec
	rejected     *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	imapCommands *prometheus.HistogramVec
	deliveries   *prometheus.CounterVec
	queueSize    prometheus.Gauge
	queueOldest  prometheus.Gauge
	spam         spamCollectors

	mu          sync.Mutex
	queueSource func() (size int, oldest time.Duration)
}

// New creates the collectors and registers them, plus the standard Go
// runtime and process collectors, on a fresh registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		connsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "connections_total",
			Help: "Connections accepted, by protocol listener.",
		}, []string{"proto"}),
		connsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "connections_open",
			Help: "Connections currently open, by protocol listener.",
		}, []string{"proto"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "smtp_messages_accepted_total",
			Help: "Messages accepted (250 after DATA), by SMTP listener.",
		}, []string{"listener"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "smtp_messages_rejected_total",
			Help: "Messages or recipients rejected, by SMTP listener and reason.",
		}, []string{"listener", "reason"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "auth_failures_total",
			Help: "Failed authentication attempts, by protocol.",
		}, []string{"proto"}),
		imapCommands: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "imap_command_duration_seconds",
			Help: "IMAP command latency by command name; _count is the number of commands.",
			// Most commands finish in well under 10 ms; FETCH of a large
			// mailbox or APPEND of a big message can take seconds.
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 30},
		}, []string{"command"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "outbound_deliveries_total",
			Help: "Outbound delivery attempts by result (sent, deferred, bounced).",
		}, []string{"result"}),
		queueSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "queue_messages",
			Help: "Messages waiting in the outbound queue.",
		}),
		queueOldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "queue_oldest_age_seconds",
			Help: "Age of the oldest message in the outbound queue (0 when empty).",
		}),
	}
	m.spam = newSpamCollectors(m.reg)
	m.reg.MustRegister(
		m.connsTotal, m.connsOpen, m.accepted, m.rejected, m.authFailures,
		m.imapCommands, m.deliveries, m.queueSize, m.queueOldest,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry returns the registry, for callers that want to add collectors of
// their own or gather in tests. Nil on a nil *Metrics.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// ConnOpened records a new connection on a protocol listener
// ("smtp", "submission", "submissions", "imap", "imaps", ...).
func (m *Metrics) ConnOpened(proto string) {
	if m == nil {
		return
	}
	m.connsTotal.WithLabelValues(proto).Inc()
	m.connsOpen.WithLabelValues(proto).Inc()
}

// ConnClosed records the end of a connection opened with ConnOpened.
func (m *Metrics) ConnClosed(proto string) {
	if m == nil {
		return
	}
	m.connsOpen.WithLabelValues(proto).Dec()
}

// SMTPAccepted records a message accepted on an SMTP listener.
func (m *Metrics) SMTPAccepted(listener string) {
	if m == nil {
		return
	}
	m.accepted.WithLabelValues(listener).Inc()
}

// SMTPRejected records a rejection on an SMTP listener. Reasons are short
// snake_case words chosen by the caller: "unknown_user", "relay",
// "oversize", "dmarc", "spf", "too_many_recipients", "auth", "store_error".
func (m *Metrics) SMTPRejected(listener, reason string) {
	if m == nil {
		return
	}
	m.rejected.WithLabelValues(listener, reason).Inc()
}

// AuthFailure records a failed login on a protocol ("smtp", "imap").
func (m *Metrics) AuthFailure(proto string) {
	if m == nil {
		return
	}
	m.authFailures.WithLabelValues(proto).Inc()
}

// IMAPCommand records one IMAP command and how long it took. Unknown names
// are counted as "OTHER" (see the package comment).
func (m *Metrics) IMAPCommand(name string, d time.Duration) {
	if m == nil {
		return
	}
	m.imapCommands.WithLabelValues(imapCommandLabel(name)).Observe(d.Seconds())
}

// Delivery records the outcome of one outbound delivery attempt:
// "sent", "deferred" or "bounced".
func (m *Metrics) Delivery(result string) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(result).Inc()
}

// SetQueue sets the queue gauges. Use it when the queue pushes its state;
// SetQueueSource is the pull alternative. A set source wins at scrape time.
func (m *Metrics) SetQueue(size int, oldest time.Duration) {
	if m == nil {
		return
	}
	m.queueSize.Set(float64(size))
	m.queueOldest.Set(oldest.Seconds())
}

// SetQueueSource registers a function that reports the queue size and the
// age of its oldest message; it is called on every /metrics scrape, so the
// gauges are never stale. It must be cheap and safe for concurrent use.
// Passing nil removes it.
func (m *Metrics) SetQueueSource(f func() (size int, oldest time.Duration)) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.queueSource = f
	m.mu.Unlock()
}

// refresh pulls the queue source, if any, into the gauges.
func (m *Metrics) refresh() {
	m.mu.Lock()
	f := m.queueSource
	m.mu.Unlock()
	if f != nil {
		size, oldest := f()
		m.SetQueue(size, oldest)
	}
}

// Handler serves the registry in the Prometheus text (or negotiated) format.
// On a nil *Metrics it answers 404, so a server without metrics can still
// mount it.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// Answer 500 rather than a partial page if a collector fails, so a
		// broken scrape is visible in Prometheus' "up" metric.
		ErrorHandling: promhttp.HTTPErrorOnError,
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.refresh()
		h.ServeHTTP(w, r)
	})
}

// knownIMAPCommand reports whether c is in the closed set of IMAP command
// names used as label values: RFC 9051/3501 plus the extensions go-imap v2
// serves. A switch rather than a package-level map: no global state.
func knownIMAPCommand(c string) bool {
	switch c {
	case "CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "AUTHENTICATE", "LOGIN",
		"ENABLE", "SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE",
		"UNSUBSCRIBE", "LIST", "LSUB", "NAMESPACE", "STATUS", "APPEND", "IDLE",
		"CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE",
		"COPY", "MOVE", "UID", "ID", "GETACL", "SETACL", "DELETEACL", "LISTRIGHTS",
		"MYRIGHTS", "GETQUOTA", "GETQUOTAROOT", "SETQUOTA", "GETMETADATA",
		"SETMETADATA", "SORT", "THREAD", "COMPRESS":
		return true
	}
	return false
}

// imapCommandLabel normalises a client-supplied command name ("uid fetch"
// and "UID FETCH" become "UID FETCH") and folds unknown names into "OTHER".
func imapCommandLabel(name string) string {
	f := strings.Fields(strings.ToUpper(name))
	if len(f) == 0 {
		return "OTHER"
	}
	if f[0] == "UID" && len(f) > 1 {
		if knownIMAPCommand(f[1]) {
			return "UID " + f[1]
		}
		return "OTHER"
	}
	if knownIMAPCommand(f[0]) {
		return f[0]
	}
	return "OTHER"
}
