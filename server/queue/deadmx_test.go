package queue

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailsrv/dns/dnstest"
)

// silentMX accepts TCP on 127.0.0.2 at the test MX's port and never
// greets, like a crashed or firewalled-after-accept remote server.
type silentMX struct {
	mu    sync.Mutex
	conns []net.Conn
}

func startSilentMX(t *testing.T, port int) *silentMX {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.2", strconv.Itoa(port)))
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2:%d (needed for a second MX on the same port): %v", port, err)
	}
	s := &silentMX{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	return s
}

func (s *silentMX) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

const deadZones = `
$ORIGIN test.
@ 3600 IN SOA ns.test. admin.test. 1 3600 600 86400 60
silent 60 IN MX 10 mx.silent
mx.silent 60 IN A 127.0.0.2
fallback 60 IN MX 10 dead.fallback
fallback 60 IN MX 20 mx.remote
dead.fallback 60 IN A 127.0.0.2
remote 60 IN MX 10 mx.remote
mx.remote 60 IN A 127.0.0.1
txtonly 60 IN TXT "no mail here"
`

// deadEnv is env with DNS for silent.test (an MX that never greets),
// fallback.test (that one first, the good MX second) and txtonly.test
// (neither MX nor A/AAAA).
func deadEnv(t *testing.T) (*env, *silentMX) {
	e := newEnv(t, nil)
	e.dns = dnstest.StartZones(t, map[string]string{"test": deadZones})
	return e, startSilentMX(t, e.mx.port)
}

// A remote MX that accepts TCP and never greets must not hold up mail to
// other domains: the good domain is delivered within seconds while the
// silent one is still being tried (issue 14).
func TestDeadMXDoesNotHoldUpOtherMail(t *testing.T) {
	e, silent := deadEnv(t)
	e.enqueue(t, "alice@example.com", "bob@silent.test")
	e.enqueue(t, "alice@example.com", "carol@remote.test")
	r := New(Options{Store: e.st, Hostname: "mail.example.com", Config: e.cfg, Resolver: e.dns.Addr(),
		Log: quietLog(), Timeouts: Timeouts{Greeting: time.Minute}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() { r.Run(ctx); close(done) }()
	waitFor(t, func() bool { return len(e.mx.received()) == 1 })
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("good domain delivered after %s", took)
	}
	// The silent MX is being tried meanwhile (its connection may be
	// accepted a moment after the good delivery: both run at once).
	waitFor(t, func() bool { return silent.accepted() == 1 })
	if got := e.mx.received()[0].to; len(got) != 1 || got[0] != "carol@remote.test" {
		t.Errorf("good MX got %v", got)
	}
	waitFor(t, func() bool { return e.queueLen(t) == 1 })
	// Shutdown interrupts the hung session at once; the item stays queued.
	cancel()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not return within 3 s of shutdown while a peer was silent")
	}
	if q, _ := e.st.Queue(t.Context()); len(q) != 1 || q[0].To[0] != "bob@silent.test" {
		t.Fatalf("queue after shutdown: %+v", q)
	}
}

// A greeting timeout moves on to the next MX host, without a plain-text
// retry of the silent one.
func TestGreetingTimeoutTriesNextMX(t *testing.T) {
	e, silent := deadEnv(t)
	e.enqueue(t, "alice@example.com", "dave@fallback.test")
	r := New(Options{Store: e.st, Hostname: "mail.example.com", Config: e.cfg, Resolver: e.dns.Addr(),
		Log: quietLog(), Timeouts: Timeouts{Greeting: 300 * time.Millisecond}})
	start := time.Now()
	r.RunOnce(context.Background())
	if got := e.mx.received(); len(got) != 1 || got[0].to[0] != "dave@fallback.test" {
		t.Fatalf("second MX got %+v", got)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("delivery took %s", took)
	}
	if n := silent.accepted(); n != 1 {
		t.Errorf("silent MX was connected %d times, want 1 (no plain-text retry after a greeting timeout)", n)
	}
	if e.queueLen(t) != 0 {
		t.Error("message still queued")
	}
}

// A domain with neither MX nor A/AAAA records bounces at once (RFC 5321
// §5.1) instead of being retried for days.
func TestNoMXNoAddressBouncesAtOnce(t *testing.T) {
	e, _ := deadEnv(t)
	e.enqueue(t, "alice@example.com", "x@txtonly.test")
	New(Options{Store: e.st, Hostname: "mail.example.com", Config: e.cfg, Resolver: e.dns.Addr(), Log: quietLog()}).RunOnce(context.Background())
	if e.queueLen(t) != 0 {
		t.Fatal("message still queued")
	}
	in := e.inbox(t)
	if len(in) != 1 || !strings.Contains(in[0], "Action: failed") || !strings.Contains(in[0], "neither MX nor A/AAAA") {
		t.Fatalf("bounce: %q", in)
	}
}

// A failed TLS handshake is retried in plain text on the same host
// (opportunistic TLS must not make mail undeliverable).
func TestTLSHandshakeFailureRetriesPlain(t *testing.T) {
	e := newEnv(t, nil)
	e.enqueue(t, "alice@example.com", "bob@remote.test")
	// The test MX speaks TLS 1.2 and up; a client limited to TLS 1.0
	// cannot agree with it.
	r := New(Options{Store: e.st, Hostname: "mail.example.com", Config: e.cfg, Resolver: e.dns.Addr(), Log: quietLog(),
		ClientTLS: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}})
	r.RunOnce(context.Background())
	if got := e.mx.received(); len(got) != 1 {
		t.Fatalf("MX got %d messages, want 1 over plain text", len(got))
	}
	e.mx.mu.Lock()
	defer e.mx.mu.Unlock()
	if e.mx.tlsConns != 0 {
		t.Errorf("%d TLS sessions", e.mx.tlsConns)
	}
}
