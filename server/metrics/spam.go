package metrics

import "github.com/prometheus/client_golang/prometheus"

// spamCollectors count the inbound filter's work (server/spam).
type spamCollectors struct {
	verdicts *prometheus.CounterVec
	checks   *prometheus.CounterVec
	trained  *prometheus.CounterVec
}

func newSpamCollectors(reg *prometheus.Registry) spamCollectors {
	c := spamCollectors{
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "spam_verdicts_total",
			Help: "Inbound filter verdicts: inbox and junk per delivered mailbox copy, reject and tempfail per message, by verdict and deciding reason.",
		}, []string{"verdict", "reason"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "spam_checks_total",
			Help: "External filter checks (dnsbl, rspamd) by result (clean, listed, spam, error, ...).",
		}, []string{"check", "result"}),
		trained: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "spam_trained_total",
			Help: "Messages the junk filter learnt, by class (spam, ham).",
		}, []string{"class"}),
	}
	reg.MustRegister(c.verdicts, c.checks, c.trained)
	return c
}

// SpamVerdict records one filter verdict ("inbox", "junk", "reject",
// "tempfail") and the reason that decided it (a closed set chosen by
// server/spam).
func (m *Metrics) SpamVerdict(verdict, reason string) {
	if m == nil {
		return
	}
	m.spam.verdicts.WithLabelValues(verdict, reason).Inc()
}

// SpamCheck records one external check: check is "dnsbl" or "rspamd".
func (m *Metrics) SpamCheck(check, result string) {
	if m == nil {
		return
	}
	m.spam.checks.WithLabelValues(check, result).Inc()
}

// SpamTrained records a message the junk filter learnt ("spam", "ham").
func (m *Metrics) SpamTrained(class string) {
	if m == nil {
		return
	}
	m.spam.trained.WithLabelValues(class).Inc()
}
