package benchkit

// QuickAck is an experiment for bench/RESULTS.md, not a server feature: it
// re-arms Linux TCP_QUICKACK after every read on a connection, so the
// kernel acknowledges a client's data at once instead of after the delayed
// ACK timer. A client that writes an APPEND literal and its closing CRLF in
// two writes without TCP_NODELAY (Python's imaplib) otherwise has the CRLF
// held back by Nagle until that ACK comes.

import (
	"net"
	"syscall"
)

// QuickAck wraps a TCP listener so every accepted connection re-arms
// TCP_QUICKACK after each read.
func QuickAck(ln net.Listener) net.Listener { return quickAckListener{ln} }

type quickAckListener struct{ net.Listener }

func (l quickAckListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c, nil
	}
	return &quickAckConn{TCPConn: tc, raw: raw}, nil
}

type quickAckConn struct {
	*net.TCPConn
	raw syscall.RawConn
}

func (c *quickAckConn) Read(p []byte) (int, error) {
	n, err := c.TCPConn.Read(p)
	c.raw.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
	return n, err
}
