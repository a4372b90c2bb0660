package smtpd

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"
)

// wire speaks SMTP line by line, for answers go-smtp's client hides.
type wire struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialWire(t *testing.T, addr string) *wire {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	w := &wire{t: t, c: c, br: bufio.NewReader(c)}
	if r := w.read(); !strings.HasPrefix(r, "220") {
		t.Fatalf("greeting %q", r)
	}
	return w
}

// read returns one (possibly multi-line) reply, lines joined by "\n".
func (w *wire) read() string {
	w.t.Helper()
	var lines []string
	for {
		w.c.SetReadDeadline(time.Now().Add(20 * time.Second))
		l, err := w.br.ReadString('\n')
		if err != nil {
			return strings.Join(append(lines, "EOF:"+err.Error()), "\n")
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

// cmd sends one line (CRLF added) and returns the reply.
func (w *wire) cmd(line string) string {
	w.t.Helper()
	w.send(line + "\r\n")
	return w.read()
}

func (w *wire) send(raw string) {
	w.t.Helper()
	w.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := w.c.Write([]byte(raw)); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// want fails unless reply starts with prefix.
func (w *wire) want(what, reply, prefix string) {
	w.t.Helper()
	if !strings.HasPrefix(reply, prefix) {
		w.t.Errorf("%s: got %q, want %q…", what, reply, prefix)
	}
}

// startTLS upgrades the connection (after EHLO).
func (w *wire) startTLS() {
	w.t.Helper()
	w.want("STARTTLS", w.cmd("STARTTLS"), "220")
	tc := tls.Client(w.c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		w.t.Fatal(err)
	}
	w.c, w.br = tc, bufio.NewReader(tc)
}

// subWire is a raw submission session of alice, authenticated.
func (e *subEnv) subWire(t *testing.T) *wire {
	w := dialWire(t, e.addr)
	w.want("EHLO", w.cmd("EHLO client.test"), "250")
	w.startTLS()
	w.want("EHLO", w.cmd("EHLO client.test"), "250")
	ir := base64.StdEncoding.EncodeToString([]byte("\x00alice@example.com\x00" + subPassword))
	w.want("AUTH", w.cmd("AUTH PLAIN "+ir), "235")
	return w
}
