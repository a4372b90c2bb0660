package auth

import (
	"net"
	"testing"
)

type strAddr string

func (a strAddr) Network() string { return "tcp" }
func (a strAddr) String() string  { return string(a) }

func TestIPKey(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 4000}, "ip:192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 4000}, "ip:192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 4000}, "ip:2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::1")}, "ip:2001:db8:1:2::/64"},
		{strAddr("198.51.100.1:25"), "ip:198.51.100.1"},
		{strAddr("[2001:db8::1]:25"), "ip:2001:db8::/64"},
		{strAddr("pipe"), "ip:pipe"},
		{nil, "ip:"},
	}
	for _, tt := range tests {
		if got := IPKey(tt.addr); got != tt.want {
			t.Errorf("IPKey(%v) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}
