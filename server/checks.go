package server

import (
	"context"
	"time"

	"mailsrv/dns"
)

// checkMX logs a warning for each local domain whose MX does not point at
// this server's hostname: the most common reason "mail doesn't arrive".
func (s *Server) checkMX(ctx context.Context) {
	resolver := s.cfg.DNS.Resolver
	if resolver == "" {
		resolver = dns.SystemResolverAddr()
	}
	for _, d := range s.store.DomainNames(ctx) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ok, err := dns.MXPointsAt(cctx, resolver, d, s.cfg.Hostname)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.Warn("could not check the MX record", "domain", d, "err", err)
		case !ok:
			s.log.Warn("MX record does not point at this server; run `mailsrv domain verify`", "domain", d, "hostname", s.cfg.Hostname)
		}
	}
}
