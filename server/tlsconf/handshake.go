package tlsconf

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// DefaultHandshakeTimeout bounds the TLS handshake of an implicit-TLS
// connection (465, 993): a client that connects and never sends a
// ClientHello is closed after it, instead of holding a connection slot for
// the protocol's command timeout (issue 12 #8).
const DefaultHandshakeTimeout = 20 * time.Second

// HandshakeListener returns a listener whose Accept yields *tls.Conn with
// the handshake already done. Handshakes run concurrently, one goroutine
// each, so a silent client never holds up the accept loop, and each is
// bounded by timeout (≤ 0: DefaultHandshakeTimeout). A failed handshake
// closes the connection. after, if not nil, runs once the handshake is
// done and may answer and close the connection itself (a refusal the
// protocol must send inside TLS, such as SMTP's 421 for a connection over
// a cap); it returns false then and the connection is not handed out.
func HandshakeListener(inner net.Listener, cfg *tls.Config, timeout time.Duration, after func(*tls.Conn) bool) net.Listener {
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	l := &handshakeListener{inner: inner, cfg: cfg, timeout: timeout, after: after,
		ready: make(chan net.Conn), done: make(chan struct{})}
	return l
}

type handshakeListener struct {
	inner   net.Listener
	cfg     *tls.Config
	timeout time.Duration
	after   func(*tls.Conn) bool

	start sync.Once
	ready chan net.Conn
	done  chan struct{}
	close sync.Once

	mu  sync.Mutex
	err error // the inner listener's Accept error, once it failed
}

func (l *handshakeListener) Accept() (net.Conn, error) {
	l.start.Do(func() { go l.acceptLoop() })
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

func (l *handshakeListener) acceptLoop() {
	for {
		c, err := l.inner.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			l.Close()
			return
		}
		go l.handshake(c)
	}
}

func (l *handshakeListener) handshake(c net.Conn) {
	tc := tls.Server(c, l.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	c.SetDeadline(time.Now().Add(l.timeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return
	}
	c.SetDeadline(time.Time{})
	if l.after != nil && !l.after(tc) {
		return
	}
	select {
	case l.ready <- tc:
	case <-l.done:
		c.Close()
	}
}

func (l *handshakeListener) Close() error {
	var err error
	l.close.Do(func() {
		close(l.done)
		err = l.inner.Close()
	})
	return err
}

func (l *handshakeListener) Addr() net.Addr { return l.inner.Addr() }
