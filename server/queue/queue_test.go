package queue

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailsrv/dns/dnstest"
	"mailsrv/server/config"
	"mailsrv/server/tlsconf/testcert"
	"mailsrv/store"
)

// testMX is an in-process go-smtp server standing in for a remote MX.
// fail decides per recipient and attempt what to answer.
type testMX struct {
	mu       sync.Mutex
	got      []received
	attempts map[string]int
	fail     func(rcpt string, attempt int) *smtp.SMTPError
	port     int
	tlsConns int
	delay    time.Duration // before answering DATA
}

type received struct {
	from string
	to   []string
	data string
}

func (m *testMX) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if _, ok := c.TLSConnectionState(); ok {
		m.mu.Lock()
		m.tlsConns++
		m.mu.Unlock()
	}
	return &mxSess{m: m}, nil
}

type mxSess struct {
	m    *testMX
	from string
	to   []string
}

func (s *mxSess) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *mxSess) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.m.mu.Lock()
	s.m.attempts[to]++
	n := s.m.attempts[to]
	s.m.mu.Unlock()
	if s.m.fail != nil {
		if e := s.m.fail(to, n); e != nil {
			return e
		}
	}
	s.to = append(s.to, to)
	return nil
}
func (s *mxSess) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	time.Sleep(s.m.delay)
	s.m.mu.Lock()
	s.m.got = append(s.m.got, received{s.from, s.to, string(b)})
	s.m.mu.Unlock()
	return nil
}
func (s *mxSess) Reset()        { s.from, s.to = "", nil }
func (s *mxSess) Logout() error { return nil }

func (m *testMX) received() []received {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]received(nil), m.got...)
}

func startMX(t *testing.T, fail func(string, int) *smtp.SMTPError) *testMX {
	t.Helper()
	m := &testMX{attempts: map[string]int{}, fail: fail}
	srv := smtp.NewServer(m)
	srv.Domain = "mx.remote.test"
	srv.TLSConfig = selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.port = ln.Addr().(*net.TCPAddr).Port
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return m
}

const remoteZone = `
$ORIGIN remote.test.
@   3600 IN SOA ns.remote.test. admin.remote.test. 1 3600 600 86400 60
@   3600 IN MX 10 mx.remote.test.
mx  3600 IN A 127.0.0.1
`

// env is a store with a local domain and user, a fake DNS and a test MX.
type env struct {
	st   *store.Store
	dir  string
	dns  *dnstest.Server
	mx   *testMX
	cfg  config.Outbound
	now  func() time.Time
	user *store.Account
}

func newEnv(t *testing.T, fail func(string, int) *smtp.SMTPError) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.AddDomain(t.Context(), store.Domain{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	u, err := st.AddUser(t.Context(), "alice@example.com", "Alice", "x")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{st: st, dir: dir, user: u, now: time.Now}
	e.dns = dnstest.StartZones(t, map[string]string{"remote.test": remoteZone})
	e.mx = startMX(t, fail)
	e.cfg = config.Outbound{
		Port:          e.mx.port,
		RetrySchedule: []config.Duration{config.Duration(20 * time.Millisecond)},
		MaxAge:        config.Duration(time.Hour),
	}
	return e
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func (e *env) runner() *Runner {
	return New(Options{Store: e.st, Hostname: "mail.example.com", Config: e.cfg,
		Resolver: e.dns.Addr(), Log: quietLog(), Now: e.now})
}

// enqueue puts a message from alice to rcpts into the outbound queue.
func (e *env) enqueue(t *testing.T, from string, rcpts ...string) {
	t.Helper()
	e.enqueueBody(t, "body line\r\n", from, rcpts...)
}

// enqueueBody is enqueue with the given body text.
func (e *env) enqueueBody(t *testing.T, body, from string, rcpts ...string) {
	t.Helper()
	w, err := e.st.NewBlob(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "From: <"+from+">\r\nTo: <"+rcpts[0]+">\r\nSubject: hello\r\nMessage-ID: <m1@example.com>\r\n\r\n"+body)
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Deliver(t.Context(), store.Delivery{Blob: w, Prefix: []byte("Received: test\r\n"),
		Queue: &store.QueueItem{From: from, To: rcpts}}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) queueLen(t *testing.T) int {
	t.Helper()
	q, err := e.st.Queue(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return len(q)
}

// inbox returns the full text of every message in alice's INBOX.
func (e *env) inbox(t *testing.T) []string {
	t.Helper()
	f, err := e.st.GetFolder(t.Context(), e.user.MailboxID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	flags, err := e.st.FolderFlags(t.Context(), f.ID)
	if err != nil {
		t.Fatal(err)
	}
	var uids []uint32
	for _, x := range flags {
		uids = append(uids, x.UID)
	}
	msgs, err := e.st.Messages(t.Context(), f.ID, uids)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := range msgs {
		rc, err := e.st.OpenMessage(t.Context(), &msgs[i])
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		out = append(out, string(b))
	}
	return out
}

func TestDeliverSuccess(t *testing.T) {
	e := newEnv(t, nil)
	e.enqueue(t, "alice@example.com", "bob@remote.test", "carol@remote.test")
	e.enqueue(t, "alice@example.com", "dave@remote.test")
	e.runner().RunOnce(context.Background())
	got := e.mx.received()
	if len(got) != 2 {
		t.Fatalf("MX got %d messages, want 2", len(got))
	}
	if got[0].from != "alice@example.com" || strings.Join(got[0].to, ",") != "bob@remote.test,carol@remote.test" {
		t.Errorf("envelope = %+v", got[0])
	}
	if !strings.HasPrefix(got[0].data, "Received: test\r\nFrom: <alice@example.com>") || !strings.Contains(got[0].data, "\r\n\r\nbody line\r\n") {
		t.Errorf("data = %q", got[0].data)
	}
	if n := e.queueLen(t); n != 0 {
		t.Errorf("queue has %d items after delivery", n)
	}
	// Both messages went over one connection, upgraded with STARTTLS.
	e.mx.mu.Lock()
	tlsConns := e.mx.tlsConns
	e.mx.mu.Unlock()
	if tlsConns != 1 {
		t.Errorf("%d TLS sessions, want 1 (reused, STARTTLS)", tlsConns)
	}
}

func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	cfg, _ := testcert.New(t, "mx.remote.test")
	return cfg
}

func TestRetryOn4xxThenSuccess(t *testing.T) {
	e := newEnv(t, func(rcpt string, attempt int) *smtp.SMTPError {
		if attempt < 3 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted"}
		}
		return nil
	})
	e.enqueue(t, "alice@example.com", "bob@remote.test")
	r := e.runner()
	r.RunOnce(context.Background())
	q, _ := e.st.Queue(t.Context())
	if len(q) != 1 || q[0].Attempts != 1 || !strings.Contains(q[0].LastError, "greylisted") || !q[0].NextAttempt.After(q[0].Created) {
		t.Fatalf("after first attempt: %+v", q)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, func() bool { return e.queueLen(t) == 0 })
	if got := e.mx.received(); len(got) != 1 {
		t.Fatalf("MX got %d messages, want exactly 1", len(got))
	}
	if len(e.inbox(t)) != 0 {
		t.Error("a bounce was sent for a message that was delivered")
	}
}

func TestPermanentFailureBounces(t *testing.T) {
	e := newEnv(t, func(rcpt string, _ int) *smtp.SMTPError {
		if strings.HasPrefix(rcpt, "nobody@") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	})
	e.enqueue(t, "alice@example.com", "nobody@remote.test", "bob@remote.test")
	e.runner().RunOnce(context.Background())
	if n := e.queueLen(t); n != 0 {
		t.Fatalf("queue has %d items, want 0", n)
	}
	if got := e.mx.received(); len(got) != 1 || strings.Join(got[0].to, ",") != "bob@remote.test" {
		t.Fatalf("MX got %+v", got)
	}
	in := e.inbox(t)
	if len(in) != 1 {
		t.Fatalf("INBOX has %d messages, want 1 bounce", len(in))
	}
	dsn := in[0]
	for _, want := range []string{
		"Content-Type: multipart/report; report-type=delivery-status",
		"From: Mail Delivery System <MAILER-DAEMON@mail.example.com>",
		"Final-Recipient: rfc822; nobody@remote.test",
		"Action: failed", "Status: 5.1.1", "no such user",
		"Content-Type: text/rfc822-headers", "Message-ID: <m1@example.com>",
	} {
		if !strings.Contains(dsn, want) {
			t.Errorf("DSN lacks %q:\n%s", want, dsn)
		}
	}
	if strings.Contains(dsn, "Final-Recipient: rfc822; bob@remote.test") {
		t.Error("DSN lists the delivered recipient")
	}
}

func TestNullSenderNeverBounced(t *testing.T) {
	e := newEnv(t, func(string, int) *smtp.SMTPError {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no"}
	})
	e.enqueue(t, "", "bob@remote.test")
	e.runner().RunOnce(context.Background())
	if e.queueLen(t) != 0 || len(e.inbox(t)) != 0 {
		t.Fatalf("queue=%d inbox=%d, want 0/0", e.queueLen(t), len(e.inbox(t)))
	}
}

func TestExpiryBouncesAndWarns(t *testing.T) {
	e := newEnv(t, func(string, int) *smtp.SMTPError {
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "busy"}
	})
	clock := time.Now()
	var mu sync.Mutex
	e.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	e.cfg.WarnAfter = config.Duration(4 * time.Hour)
	e.cfg.MaxAge = config.Duration(24 * time.Hour)
	e.enqueue(t, "alice@example.com", "bob@remote.test")
	r := e.runner()
	advance(5 * time.Hour) // past warn_after (Created is the real clock)
	r.RunOnce(context.Background())
	in := e.inbox(t)
	if len(in) != 1 || !strings.Contains(in[0], "Action: delayed") {
		t.Fatalf("want one delay warning, inbox: %q", in)
	}
	advance(time.Hour)
	r.RunOnce(context.Background())
	if len(e.inbox(t)) != 1 {
		t.Fatal("delay warning sent twice")
	}
	advance(24 * time.Hour)
	r.RunOnce(context.Background())
	in = e.inbox(t)
	if e.queueLen(t) != 0 || len(in) != 2 || !strings.Contains(in[1], "Action: failed") {
		t.Fatalf("after max_age: queue=%d inbox=%q", e.queueLen(t), in)
	}
}

func TestQueueSurvivesRestart(t *testing.T) {
	e := newEnv(t, nil)
	e.enqueue(t, "alice@example.com", "bob@remote.test")
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(e.dir, store.Options{Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e.st = st
	if e.queueLen(t) != 1 {
		t.Fatal("queued item lost across restart")
	}
	r := e.runner()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, func() bool { return len(e.mx.received()) == 1 && e.queueLen(t) == 0 })
	if d := e.mx.received()[0].data; !strings.Contains(d, "body line") {
		t.Errorf("data after restart = %q", d)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A queued message whose body file is gone (disk damage, an admin's rm)
// must not go out as an empty message: the connection is dropped before
// the end of DATA and the item stays queued.
func TestMissingBodyNeverSendsEmptyMessage(t *testing.T) {
	e := newEnv(t, nil)
	// Above 64 KiB, so the body is a file (small ones are in the
	// database, store/blob_inline.go) that can go missing.
	e.enqueueBody(t, strings.Repeat("body line\r\n", 7000), "alice@example.com", "bob@remote.test")
	q, err := e.st.Queue(t.Context())
	if err != nil || len(q) != 1 {
		t.Fatalf("queue %v %v", q, err)
	}
	if err := os.Remove(filepath.Join(e.dir, "blobs", q[0].Blob[len(q[0].Blob)-2:], q[0].Blob)); err != nil {
		t.Fatal(err)
	}
	e.runner().RunOnce(context.Background())
	if got := e.mx.received(); len(got) != 0 {
		t.Fatalf("MX received %d messages (%q) from a missing body", len(got), got[0].data)
	}
	if n := e.queueLen(t); n != 1 {
		t.Fatalf("queue has %d items, want the message kept for retry", n)
	}
}
