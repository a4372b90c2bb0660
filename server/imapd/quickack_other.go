//go:build !linux

package imapd

import "net"

// quickAcker: TCP_QUICKACK is Linux-only; elsewhere reads are left alone.
func quickAcker(net.Conn) func() { return nil }
