package imapd

import (
	"crypto/tls"
	"net"
	"sync"
)

// go-imap flushes its buffered writer after every response, so FETCH 1:*
// over 100k messages would cost 100k write system calls and, under TLS,
// 100k records. Batching happens at two levels while a command that writes
// many responses runs (session.batch):
//
//   - above TLS, go-imap's Conn.BeginBatch (a mailsrv patch) keeps
//     responses in its 4 KiB buffered writer, so a TLS record carries tens
//     of lines instead of one;
//   - below TLS, batchConn gathers those writes into blocks of batchSize,
//     so a system call carries many records.
//
// The command's end flushes both. Outside such commands writes pass
// straight through, so interactive latency is unchanged. batchConn wraps
// the raw TCP connection rather than the connection go-imap sees so that
// go-imap's "is this TLS?" checks (STARTTLS, LOGINDISABLED) still see a
// *tls.Conn or a plain connection as before. It also re-arms TCP_QUICKACK
// after every read (quickack_linux.go).
const batchSize = 64 << 10

type batchConn struct {
	net.Conn
	quickAck func() // re-arms TCP_QUICKACK; nil where unsupported

	mu        sync.Mutex
	batching  int
	buf       []byte
	closeNext bool // close after the next write (closeAfterNextWrite)
}

// Read re-arms TCP_QUICKACK, so the kernel acknowledges what the client
// sent at once. A client that writes an APPEND literal and its closing CRLF
// in two writes without TCP_NODELAY (Python's imaplib) otherwise has the
// CRLF held back by Nagle until our delayed ACK, ~40 ms per message.
func (c *batchConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.quickAck != nil {
		c.quickAck()
	}
	return n, err
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

type batchListener struct {
	net.Listener
	quickAck bool
}

func (s *Server) batchListener(ln net.Listener) batchListener {
	return batchListener{Listener: ln, quickAck: !s.opts.noQuickAck}
}

func (l batchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	bc := &batchConn{Conn: c}
	if l.quickAck {
		bc.quickAck = quickAcker(c)
	}
	return bc, nil
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
	s.conn.BeginBatch()
	nc := s.conn.NetConn()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	bc, ok := nc.(*batchConn)
	if !ok {
		return func() { _ = s.conn.EndBatch() }
	}
	bc.begin()
	return func() {
		_ = s.conn.EndBatch() // into TLS and batchConn; an error surfaces on the next write
		bc.end()
	}
}
