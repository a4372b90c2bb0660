package msgauth

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// countingResolver answers from fixed data and counts the questions.
type countingResolver struct {
	calls atomic.Int32
	txt   map[string][]string
	fail  map[string]error
}

func (r *countingResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	r.calls.Add(1)
	if err := r.fail[name]; err != nil {
		return nil, err
	}
	if v, ok := r.txt[name]; ok {
		return append([]string(nil), v...), nil // as a real resolver: a fresh slice
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}
func (r *countingResolver) LookupMX(context.Context, string) ([]*net.MX, error) { return nil, nil }
func (r *countingResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	return nil, nil
}
func (r *countingResolver) LookupAddr(context.Context, string) ([]string, error) { return nil, nil }

func TestCachingResolver(t *testing.T) {
	next := &countingResolver{
		txt:  map[string][]string{"example.com": {"v=spf1 -all"}},
		fail: map[string]error{"flaky.example": &net.DNSError{Err: "server misbehaving", Name: "flaky.example", IsTemporary: true}},
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewCachingResolver(next, time.Minute, func() time.Time { return now })
	ctx := context.Background()
	ask := func(name string) ([]string, error) { return c.LookupTXT(ctx, name) }

	// An answer is asked for once.
	for i := 0; i < 3; i++ {
		v, err := ask("example.com")
		if err != nil || len(v) != 1 || v[0] != "v=spf1 -all" {
			t.Fatalf("TXT = %v, %v", v, err)
		}
		v[0] = "changed by a caller"
	}
	if n := next.calls.Load(); n != 1 {
		t.Fatalf("%d upstream questions for a cached answer, want 1", n)
	}
	// "No such record" is cached and still reported as not found.
	for i := 0; i < 2; i++ {
		if _, err := ask("_dmarc.nodmarc.example"); !isNotFound(err) {
			t.Fatalf("missing record: err %v", err)
		}
	}
	if n := next.calls.Load(); n != 2 {
		t.Fatalf("%d upstream questions after a cached NXDOMAIN, want 2", n)
	}
	// A temporary failure is not cached.
	ask("flaky.example")
	ask("flaky.example")
	if n := next.calls.Load(); n != 4 {
		t.Fatalf("%d upstream questions after two SERVFAILs, want 4", n)
	}
	// After the TTL the question is asked again.
	now = now.Add(2 * time.Minute)
	if v, _ := ask("example.com"); v[0] != "v=spf1 -all" {
		t.Fatalf("after expiry: %v", v)
	}
	if n := next.calls.Load(); n != 5 {
		t.Fatalf("%d upstream questions after expiry, want 5", n)
	}
}
