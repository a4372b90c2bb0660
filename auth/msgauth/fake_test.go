package msgauth

import (
	"context"
	"net"
	"strings"
)

// fakeResolver is an in-memory Resolver. Unknown names answer NXDOMAIN the
// way *net.Resolver does (a *net.DNSError with IsNotFound), which is what
// the SPF and DMARC libraries key on; names in temp answer a temporary
// error.
type fakeResolver struct {
	txt  map[string][]string
	ip   map[string][]net.IPAddr
	mx   map[string][]*net.MX
	ptr  map[string][]string
	temp map[string]bool
}

func newFake() *fakeResolver {
	return &fakeResolver{
		txt:  map[string][]string{},
		ip:   map[string][]net.IPAddr{},
		mx:   map[string][]*net.MX{},
		ptr:  map[string][]string{},
		temp: map[string]bool{},
	}
}

func key(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

func (f *fakeResolver) err(name string) error {
	if f.temp[key(name)] {
		return &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
	}
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (f *fakeResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	if v, ok := f.txt[key(name)]; ok && !f.temp[key(name)] {
		return v, nil
	}
	return nil, f.err(name)
}

func (f *fakeResolver) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	if v, ok := f.mx[key(name)]; ok {
		return v, nil
	}
	return nil, f.err(name)
}

func (f *fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	if v, ok := f.ip[key(host)]; ok {
		return v, nil
	}
	return nil, f.err(host)
}

func (f *fakeResolver) LookupAddr(_ context.Context, addr string) ([]string, error) {
	if v, ok := f.ptr[addr]; ok {
		return v, nil
	}
	return nil, f.err(addr)
}

var _ Resolver = (*fakeResolver)(nil)
var _ Resolver = (*net.Resolver)(nil)
