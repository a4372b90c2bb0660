package main

import (
	"bufio"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailsrv/server/admin"
)

// SIGTERM to `mailsrv serve` with idle admin-socket, IMAP, SMTP and HTTP
// connections open: the process exits within 10 s (issue 15).
func TestSIGTERMWithIdleConnectionsExits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mailsrv serve as a child process")
	}
	data, conf := serveSetup(t, "a long enough password")
	srv := startServe(t, conf)

	// Idle admin connection: connected, one request answered, then silent.
	ac, err := net.Dial("unix", admin.SocketPath(data))
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	if _, err := ac.Write([]byte(`{"op":"domain.list"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(ac).ReadString('\n'); err != nil || !strings.Contains(line, "example.com") {
		t.Fatalf("admin answer %q %v", line, err)
	}
	// And one that never sends a byte.
	ac2, err := net.Dial("unix", admin.SocketPath(data))
	if err != nil {
		t.Fatal(err)
	}
	defer ac2.Close()
	for _, name := range []string{"imap", "smtp", "submission", "http"} {
		addr := srv.addrs[name]
		if addr == "" {
			t.Fatalf("no %s listener in %v", name, srv.addrs)
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if name != "http" { // read the greeting: the session is established
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
				t.Fatalf("%s greeting: %v", name, err)
			}
		}
	}
	// An HTTP keep-alive connection after one request.
	hc, err := net.Dial("tcp", srv.addrs["http"])
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	hc.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	hc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(hc).ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 ") {
		t.Fatalf("http answer %q %v", line, err)
	}

	start := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v", err)
		}
		t.Logf("exited %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("mailsrv serve still running 10 s after SIGTERM with idle connections open")
	}
}
