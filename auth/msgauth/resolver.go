// Package msgauth owns message authentication for mailsrv: SPF, DKIM and
// DMARC verification of inbound mail (MX intake) and DKIM signing of
// outbound mail (submission), plus the trace headers that record the
// outcome (Authentication-Results:, Received:).
//
// Why it is built this way:
//
//   - Protocol pieces come from well-kept libraries (blitiri.com.ar/go/spf,
//     emersion/go-msgauth for DKIM/DMARC/Authentication-Results,
//     golang.org/x/net/publicsuffix for organisational domains); this package
//     only glues them together and applies the DMARC policy decision.
//   - Every DNS lookup goes through the Resolver passed in by the caller, so
//     the server honours the `[dns] resolver` setting and tests can point it
//     at an in-process DNS server or an in-memory fake. Nothing here keeps
//     package-level mutable state.
//   - Messages may be up to 50 MB, so verification and signing read the
//     message exactly once as a stream. Only the header block is buffered
//     (bounded by MaxHeaderBytes); the body streams through the DKIM hashers.
//   - Signing returns the DKIM-Signature header field instead of a rewritten
//     message, so the caller prepends it without copying the body again.
package msgauth

import (
	"context"
	"net"
)

// Resolver is the DNS interface every lookup in this package goes through.
// *net.Resolver satisfies it; it is also exactly what blitiri.com.ar/go/spf
// expects.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// NewResolver returns a resolver that sends every query to the DNS server at
// addr ("host:port"), which is how the `[dns] resolver` setting is applied.
// The pure-Go resolver is forced so that the custom Dial is always used
// (the cgo resolver would bypass it). An empty addr means the system
// resolver, net.DefaultResolver.
func NewResolver(addr string) *net.Resolver {
	if addr == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			// network is "udp" or "tcp" (the Go resolver retries over TCP on
			// truncation); keep it and only replace the server address.
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}
