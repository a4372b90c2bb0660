package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// value returns the value of the metric family name with the given label
// values (in label order), or -1 when absent.
func value(t *testing.T, m *Metrics, name string, labels ...string) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, mt := range f.GetMetric() {
			lp := mt.GetLabel()
			if len(lp) != len(labels) {
				continue
			}
			// Gather sorts labels by name.
			for i, l := range lp {
				if l.GetValue() != labels[i] {
					continue metric
				}
			}
			return metricValue(mt)
		}
	}
	return -1
}

func metricValue(mt *dto.Metric) float64 {
	switch {
	case mt.Counter != nil:
		return mt.Counter.GetValue()
	case mt.Gauge != nil:
		return mt.Gauge.GetValue()
	case mt.Histogram != nil:
		return float64(mt.Histogram.GetSampleCount())
	}
	return -1
}

func TestNilMetricsIsSafe(t *testing.T) {
	var m *Metrics
	m.ConnOpened("smtp")
	m.ConnClosed("smtp")
	m.SMTPAccepted("mx")
	m.SMTPRejected("mx", "relay")
	m.AuthFailure("imap")
	m.IMAPCommand("FETCH", time.Millisecond)
	m.Delivery("sent")
	m.SetQueue(1, time.Second)
	m.SetQueueSource(func() (int, time.Duration) { return 0, 0 })
	if m.Registry() != nil {
		t.Error("nil Metrics has a registry")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("nil Metrics handler: %d, want 404", rec.Code)
	}
}

func TestCountersAndGauges(t *testing.T) {
	m := New()
	// Two instances side by side: no shared (global) registry.
	other := New()

	m.ConnOpened("imap")
	m.ConnOpened("imap")
	m.ConnClosed("imap")
	m.SMTPAccepted("submission")
	m.SMTPRejected("mx", "too_many_recipients")
	m.SMTPRejected("mx", "too_many_recipients")
	m.AuthFailure("smtp")
	m.Delivery("deferred")
	m.Delivery("bounced")

	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mailsrv_connections_total", []string{"imap"}, 2},
		{"mailsrv_connections_open", []string{"imap"}, 1},
		{"mailsrv_smtp_messages_accepted_total", []string{"submission"}, 1},
		{"mailsrv_smtp_messages_rejected_total", []string{"mx", "too_many_recipients"}, 2},
		{"mailsrv_auth_failures_total", []string{"smtp"}, 1},
		{"mailsrv_outbound_deliveries_total", []string{"deferred"}, 1},
		{"mailsrv_outbound_deliveries_total", []string{"bounced"}, 1},
	}
	for _, c := range checks {
		if got := value(t, m, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
		if got := value(t, other, c.name, c.labels...); got != -1 {
			t.Errorf("other instance sees %s%v = %v", c.name, c.labels, got)
		}
	}
}

func TestIMAPCommandLabelsAreBounded(t *testing.T) {
	m := New()
	m.IMAPCommand("fetch", time.Millisecond)
	m.IMAPCommand("UID  store", time.Millisecond)
	m.IMAPCommand("XYZZY-"+strings.Repeat("A", 50), time.Millisecond)
	m.IMAPCommand("UID bogus", time.Millisecond)
	m.IMAPCommand("", time.Millisecond)
	if got := value(t, m, "mailsrv_imap_command_duration_seconds", "FETCH"); got != 1 {
		t.Errorf("FETCH count = %v", got)
	}
	if got := value(t, m, "mailsrv_imap_command_duration_seconds", "UID STORE"); got != 1 {
		t.Errorf("UID STORE count = %v", got)
	}
	if got := value(t, m, "mailsrv_imap_command_duration_seconds", "OTHER"); got != 3 {
		t.Errorf("OTHER count = %v, want 3 (unknown names folded)", got)
	}
}

func TestQueueSourceIsPulledOnScrape(t *testing.T) {
	m := New()
	m.SetQueue(7, time.Minute)
	if got := value(t, m, "mailsrv_queue_messages"); got != 7 {
		t.Fatalf("queue size = %v, want 7", got)
	}
	var mu sync.Mutex
	size := 3
	m.SetQueueSource(func() (int, time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		return size, 2 * time.Hour
	})
	scrape := func() string {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(rec.Body)
		return string(b)
	}
	out := scrape()
	if !strings.Contains(out, "mailsrv_queue_messages 3\n") || !strings.Contains(out, "mailsrv_queue_oldest_age_seconds 7200\n") {
		t.Fatalf("scrape did not pull the queue source:\n%s", out)
	}
	mu.Lock()
	size = 0
	mu.Unlock()
	if out := scrape(); !strings.Contains(out, "mailsrv_queue_messages 0\n") {
		t.Fatalf("second scrape stale")
	}
	// Standard runtime collectors are on the same private registry.
	if !strings.Contains(out, "go_goroutines ") {
		t.Error("go collector missing")
	}
}
