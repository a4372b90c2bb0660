package imapd

import (
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailsrv/internal/testkit"
)

// recordCounter counts the TLS records a client receives by following the
// record headers (5 bytes: type, version, length) in the byte stream.
type recordCounter struct {
	net.Conn
	records atomic.Int64
	hdr     []byte
	skip    int
}

func (c *recordCounter) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	b := p[:n]
	for len(b) > 0 {
		if c.skip > 0 {
			k := min(c.skip, len(b))
			c.skip -= k
			b = b[k:]
			continue
		}
		need := 5 - len(c.hdr)
		k := min(need, len(b))
		c.hdr = append(c.hdr, b[:k]...)
		b = b[k:]
		if len(c.hdr) == 5 {
			c.records.Add(1)
			c.skip = int(c.hdr[3])<<8 | int(c.hdr[4])
			c.hdr = c.hdr[:0]
		}
	}
	return n, err
}

// rawSession is a line-level IMAP client for tests that watch the wire.
// TestFetchOverTLSBatchesRecords: a FETCH of many messages over TLS is sent
// in a few large records, not one record per response line (issue 19: a
// Python client paid two read() calls per line against mailsrv).
func TestFetchOverTLSBatchesRecords(t *testing.T) {
	e, _, tlsAddr, _ := tlsEnv(t)
	const n = 300
	inbox := e.mailbox("alice@example.com")
	for i := range n {
		e.deliver(inbox, "INBOX", testMessage(i))
	}
	nc, err := net.Dial("tcp", tlsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rc := &recordCounter{Conn: nc}
	tc := tls.Client(rc, &tls.Config{InsecureSkipVerify: true})
	r := testkit.NewIMAP(t, tc)
	r.MustOK("a", "LOGIN alice@example.com \""+testPassword+"\"")
	r.MustOK("b", "SELECT INBOX")

	before := rc.records.Load()
	lines := r.MustOK("c", "FETCH 1:* (UID ENVELOPE)")
	records := rc.records.Load() - before
	fetches := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "* ") && strings.Contains(l, " FETCH ") {
			fetches++
		}
	}
	if fetches != n {
		t.Fatalf("got %d FETCH responses, want %d", fetches, n)
	}
	t.Logf("FETCH of %d envelopes: %d TLS records", n, records)
	if records > n/10 {
		t.Fatalf("FETCH of %d envelopes took %d TLS records; want at most %d (one record per line is the regression)", n, records, n/10)
	}

	// FETCH FLAGS takes imapd's pre-formatted path (WriteRaw): the same.
	before = rc.records.Load()
	r.MustOK("d", "FETCH 1:* (UID FLAGS)")
	if got := rc.records.Load() - before; got > n/10 {
		t.Fatalf("FETCH FLAGS of %d took %d TLS records", n, got)
	}
}

// TestAppendWithoutNoDelayIsNotStalled: a client that writes an APPEND
// literal and its closing CRLF in two writes with Nagle on (Python's
// imaplib) is not held up by the server's delayed ACK (~40 ms a message),
// because imapd re-arms TCP_QUICKACK after each read.
func TestAppendWithoutNoDelayIsNotStalled(t *testing.T) {
	e := newEnv(t)
	quick := e.addr
	e.start(Options{noQuickAck: true})
	control := e.addr

	// The fastest of 15: the stall (~40 ms) is in every APPEND without
	// TCP_QUICKACK, while load only ever adds time, so minimums compare
	// well on a busy machine too.
	slow := fastestAppend(t, control)
	fast := fastestAppend(t, quick)
	t.Logf("fastest APPEND with Nagle on the client: %v without TCP_QUICKACK, %v with", slow, fast)
	if slow < 30*time.Millisecond {
		t.Skipf("this kernel did not delay the ACK without TCP_QUICKACK (fastest %v), so the test cannot tell", slow)
	}
	if fast > slow/2 {
		t.Fatalf("with TCP_QUICKACK the fastest APPEND took %v, without %v; want less than half", fast, slow)
	}
}

func fastestAppend(t *testing.T, addr string) time.Duration {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.(*net.TCPConn).SetNoDelay(false); err != nil {
		t.Fatal(err)
	}
	r := testkit.NewIMAP(t, nc)
	r.MustOK("a", "LOGIN carol@example.com \""+testPassword+"\"")
	msg := testMessage(1) + strings.Repeat("filler line of a typical message body\r\n", 70)
	var took []time.Duration
	for i := range 15 {
		tag := fmt.Sprintf("p%d", i)
		start := time.Now()
		fmt.Fprintf(nc, "%s APPEND INBOX {%d}\r\n", tag, len(msg))
		if l, err := r.R.ReadString('\n'); err != nil || !strings.HasPrefix(l, "+") {
			t.Fatalf("APPEND continuation: %q %v", l, err)
		}
		nc.Write([]byte(msg)) // two writes, as imaplib does
		nc.Write([]byte("\r\n"))
		r.Until(tag)
		took = append(took, time.Since(start))
	}
	return slices.Min(took)
}
