package smtpd

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mailsrv/internal/testkit"
	"mailsrv/server/config"
)

// serveSub starts another submission server over e's store with limits
// and implicit TLS as given, and returns its address.
func (e *subEnv) serveSub(t *testing.T, limits config.Limits, implicit bool, hsTimeout time.Duration) string {
	t.Helper()
	limits.MaxMessageBytes = 1 << 20
	srv := NewSubmission(SubmissionOptions{
		Store: e.st, Hostname: "mail.example.com", Limits: limits, TLS: subTLSConfig(t),
		ImplicitTLS: implicit, HandshakeTimeout: hsTimeout, Log: subQuietLog(),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testkit.Must(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(t.Context()) })
	return ln.Addr().String()
}

func readLine(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading a line: %v (got %q)", err, l)
	}
	return l
}

// TestSubmissionsHandshakeDeadline (issue 12 #8): on 465 a connection that
// never sends a ClientHello is closed after the handshake timeout, and it
// does not hold up other clients meanwhile.
func TestSubmissionsHandshakeDeadline(t *testing.T) {
	e := newSubEnv(t)
	addr := e.serveSub(t, config.Limits{}, true, 300*time.Millisecond)
	silent, err := net.Dial("tcp", addr)
	testkit.Must(t, err)
	defer silent.Close()
	// Meanwhile a real client is served at once.
	tc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	testkit.Must(t, err)
	if l := readLine(t, tc); !strings.HasPrefix(l, "220 ") {
		t.Fatalf("greeting %q", l)
	}
	tc.Close()
	start := time.Now()
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(silent); err != nil {
		t.Fatalf("silent connection not closed by the server: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("closed after %v, want about 300ms", d)
	}
}

// TestSubmissionsPerIPRefusalInsideTLS (issue 12 #9/#8): on 465 the 421
// for a connection over the per-IP cap is written after the handshake, so
// a TLS client reads it (not clear text it cannot parse).
func TestSubmissionsPerIPRefusalInsideTLS(t *testing.T) {
	e := newSubEnv(t)
	addr := e.serveSub(t, config.Limits{MaxConnectionsPerIP: 1}, true, time.Second)
	first, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	testkit.Must(t, err)
	defer first.Close()
	readLine(t, first)
	second, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS handshake of the refused connection: %v (refusal written in clear text?)", err)
	}
	defer second.Close()
	if l := readLine(t, second); !strings.HasPrefix(l, "421 4.7.0 Too many connections from your address") {
		t.Fatalf("refusal %q", l)
	}
	// Another address is its own network: served.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	other, err := tls.DialWithDialer(&d, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Skipf("cannot dial from 127.0.0.2: %v", err)
	}
	defer other.Close()
	if l := readLine(t, other); !strings.HasPrefix(l, "220 ") {
		t.Fatalf("other address: %q", l)
	}
}

// TestSMTPGlobalConnectionCap (issue 12 #8): over limits.max_connections
// a client gets a clear 421 and the connection is closed.
func TestSMTPGlobalConnectionCap(t *testing.T) {
	e := newSubEnv(t)
	addr := e.serveSub(t, config.Limits{MaxConnections: 2}, false, 0)
	for range 2 {
		c, err := net.Dial("tcp", addr)
		testkit.Must(t, err)
		defer c.Close()
		if l := readLine(t, c); !strings.HasPrefix(l, "220 ") {
			t.Fatalf("greeting %q", l)
		}
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		c, err = net.Dial("tcp", addr)
		testkit.Must(t, err)
	}
	defer c.Close()
	if l := readLine(t, c); !strings.HasPrefix(l, "421 4.7.0 Too many connections to this server") {
		t.Fatalf("over the global cap: %q", l)
	}
}

// fakeConn is a connection with a chosen remote address, for track.
type fakeConn struct {
	net.Conn
	remote net.Addr
}

func (f fakeConn) RemoteAddr() net.Addr { return f.remote }

// TestSMTPPerIPKeyIsIPv6Slash64 (issue 12 #8): the per-IP cap counts an
// IPv6 /64 as one client, like IMAP and the login throttle.
func TestSMTPPerIPKeyIsIPv6Slash64(t *testing.T) {
	s := newServer(serverConfig{Name: "test", Limits: config.Limits{MaxConnectionsPerIP: 1}, Log: subQuietLog()})
	conn := func(ip string) net.Conn {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		go io.Copy(io.Discard, b)
		return fakeConn{Conn: a, remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: 1}}
	}
	if s.track(conn("2001:db8:1:2::1")) == nil {
		t.Fatal("first connection refused")
	}
	if s.track(conn("2001:db8:1:2:ffff::9")) != nil {
		t.Error("second host of the same /64 accepted over a cap of 1")
	}
	if s.track(conn("2001:db8:1:3::1")) == nil {
		t.Error("another /64 refused")
	}
}
