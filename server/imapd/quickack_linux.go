package imapd

import (
	"net"
	"syscall"
)

// quickAcker returns a function that re-arms TCP_QUICKACK on c (Linux
// clears it again after a while, so it is set after every read), or nil
// when c is not a TCP connection.
func quickAcker(c net.Conn) func() {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return func() {
		_ = raw.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
		})
	}
}
