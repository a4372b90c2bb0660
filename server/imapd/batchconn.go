package imapd

import (
	"crypto/tls"
	"net"
	"sync"
)

// go-imap flushes its buffered writer after every response, so FETCH 1:*
// over 100k messages would cost 100k write system calls (and, under TLS,
// 100k records). batchConn sits under go-imap (and under TLS) and, while a
// command that writes many responses runs, gathers writes into blocks of
// batchSize; the command's end flushes. Outside such commands writes pass
// straight through, so interactive latency is unchanged.
//
// It wraps the raw TCP connection rather than the connection go-imap sees
// so that go-imap's "is this TLS?" checks (STARTTLS, LOGINDISABLED) still
// see a *tls.Conn or a plain connection as before.
const batchSize = 64 << 10

type batchConn struct {
	net.Conn

	mu        sync.Mutex
	batching  int
	buf       []byte
	closeNext bool // close after the next write (closeAfterNextWrite)
}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.batching == 0 {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		n, err := c.Conn.Write(p)
		if c.closeNext {
			c.Conn.Close()
		}
		return n, err
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) >= batchSize {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (c *batchConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > 2*batchSize {
		c.buf = nil // do not keep a large buffer on an idle connection
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

func (c *batchConn) begin() {
	c.mu.Lock()
	c.batching++
	c.mu.Unlock()
}

func (c *batchConn) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batching--
	if c.batching == 0 {
		_ = c.flushLocked() // a failed write surfaces on the next response
		c.buf = nil         // idle connections hold no buffer
	}
}

type batchListener struct{ net.Listener }

func (l batchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &batchConn{Conn: c}, nil
}

// closeAfterNextWrite ends the session right after its next response (the
// NO of a login that failed too often): go-imap has no way for a session to
// close its connection after a tagged response.
func (s *session) closeAfterNextWrite() {
	nc := s.conn.NetConn()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if bc, ok := nc.(*batchConn); ok {
		bc.mu.Lock()
		bc.closeNext = true
		bc.mu.Unlock()
	}
}

// batch starts gathering writes for the current command; call the
// returned function when the command's responses are written.
func (s *session) batch() func() {
	nc := s.conn.NetConn()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	bc, ok := nc.(*batchConn)
	if !ok {
		return func() {}
	}
	bc.begin()
	return bc.end
}
