package imapd

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mailsrv/server/config"
	"mailsrv/server/tlsconf/testcert"
)

// TestIMAPSHandshakeDeadline (issue 12 #8): on 993 a connection that never
// sends a ClientHello is closed after the handshake timeout (it stayed
// open for 660 s+ before).
func TestIMAPSHandshakeDeadline(t *testing.T) {
	e := newEnv(t)
	e.srv.Close()
	cfg, _ := testcert.New(t, "mail.example.com")
	e.start(Options{TLS: cfg, HandshakeTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("silent connection not closed: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("closed after %v, want about 300ms", d)
	}
}

// TestIMAPGlobalConnectionCap (issue 12 #8): over limits.max_connections
// the greeting is a clear BYE.
func TestIMAPGlobalConnectionCap(t *testing.T) {
	e := newEnv(t)
	e.srv.Close()
	e.start(Options{Limits: config.Limits{MaxMessageBytes: 1 << 20, AuthFailuresPerMinute: 100, MaxConnections: 2}})
	read := func(c net.Conn) string {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		l, _ := bufio.NewReader(c).ReadString('\n')
		return l
	}
	for range 2 {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if l := read(c); !strings.HasPrefix(l, "* OK") {
			t.Fatalf("greeting %q", l)
		}
	}
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if l := read(c); !strings.HasPrefix(l, "* BYE Too many connections to this server") {
		t.Fatalf("over the cap: %q", l)
	}
}
