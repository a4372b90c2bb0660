package auth

import (
	"net"
	"net/netip"
)

// IPKey returns the limiter key for a client address: "ip:192.0.2.1" for
// IPv4 and "ip:2001:db8:1:2::/64" for IPv6, since one IPv6 host usually
// owns a whole /64. Addresses it cannot parse give "ip:" + addr.String().
func IPKey(addr net.Addr) string {
	var ap netip.Addr
	switch a := addr.(type) {
	case *net.TCPAddr:
		ap, _ = netip.AddrFromSlice(a.IP)
	case nil:
		return "ip:"
	default:
		s := a.String()
		if host, _, err := net.SplitHostPort(s); err == nil {
			s = host
		}
		var err error
		if ap, err = netip.ParseAddr(s); err != nil {
			return "ip:" + a.String()
		}
	}
	ap = ap.Unmap().WithZone("")
	if !ap.IsValid() {
		return "ip:" + addr.String()
	}
	if ap.Is6() {
		p, _ := ap.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + ap.String()
}
