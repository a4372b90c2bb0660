// Package server owns the lifecycle of a running mailsrv: it opens the data
// directory (failing fast if another process holds it), binds every
// configured listener, starts the protocol services, the admin socket and
// background jobs, and shuts all of it down in order on cancellation.
//
// Binding happens in New, serving in Run, so a caller (the serve command,
// or a test using port 0) knows every bound address before traffic flows,
// and a port conflict is reported before anything is served.
//
// Shutdown order: listeners close first (no new sessions), in-flight
// sessions get shutdownGrace to finish, background jobs stop, and the store
// closes last so every acknowledged write is on disk.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"mailsrv/auth"
	"mailsrv/auth/login"
	"mailsrv/auth/msgauth"
	"mailsrv/server/admin"
	"mailsrv/server/config"
	"mailsrv/server/metrics"
	"mailsrv/server/storage"
	"mailsrv/server/submit"
	"mailsrv/server/tlsconf"
	"mailsrv/server/web"
	"mailsrv/server/web/console"
	"mailsrv/server/web/mail"
	"mailsrv/store"
)

// shutdownGrace is how long in-flight sessions may take to finish.
const shutdownGrace = 5 * time.Second

// service is one protocol server bound to one listener.
type service struct {
	name     string
	ln       net.Listener
	serve    func(net.Listener) error
	shutdown func(context.Context) error
}

// Server is a running mailsrv instance.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	store   *store.Store
	tls     *tlsconf.Manager
	metrics *metrics.Metrics
	// login is the one login decision of IMAP, submission and the web
	// login: one argon2id budget, one cache of recent successful logins,
	// one throttle of password guessing (auth/login, auth.Throttle).
	login    *login.Authenticator
	resolver msgauth.Resolver
	adminLn  net.Listener
	admin    *admin.Handler
	services []*service
	jobs     []func(ctx context.Context)
	onStop   []func()
	webmail  *mail.Mail        // nil when [web] is disabled
	submit   *submit.Submitter // the sending pipeline of submission and webmail
}

// New opens the data directory, binds every listener and prepares the
// services. Nothing is served until Run.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (s *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := storage.Open(context.Background(), cfg, store.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	srv := &Server{cfg: cfg, log: log, store: st, metrics: metrics.New(),
		login: login.New(st, auth.NewVerifier(auth.DefaultVerifyCacheTTL, nil),
			auth.NewThrottle(cfg.Limits.AuthFailuresPerMinute, nil, nil)),
		// SPF/DKIM/DMARC answers are kept a minute: a burst from one
		// domain asks the same questions for every message.
		resolver: msgauth.NewCachingResolver(msgauth.NewResolver(cfg.DNS.Resolver), dnsCacheTTL, nil)}
	s = srv
	// On failure s is nil (every error return below says "return nil,
	// err"), so the cleanup closes through srv.
	defer func() {
		if err != nil {
			srv.closeAll()
		}
	}()
	if s.tls, err = tlsconf.New(cfg, func() []string { return st.DomainNames(context.WithoutCancel(ctx)) }, log); err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	if s.adminLn, err = admin.Listen(cfg.DataDir); err != nil {
		return nil, err
	}
	s.admin = &admin.Handler{Store: st, Config: cfg, Log: log}
	if err := s.addProtocols(); err != nil {
		return nil, err
	}
	if err := s.addHTTP(ctx); err != nil {
		return nil, err
	}
	s.jobs = append(s.jobs, s.housekeeping, s.memTrim)
	return s, nil
}

// listen binds addr for the named listener; "" disables it (nil, nil).
func (s *Server) listen(name, addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen.%s %s: %w", name, addr, err)
	}
	return ln, nil
}

// addService binds a listener and registers its service (skipped if disabled).
func (s *Server) addService(name, addr string, serve func(net.Listener) error, shutdown func(context.Context) error) error {
	ln, err := s.listen(name, addr)
	if err != nil || ln == nil {
		return err
	}
	s.services = append(s.services, &service{name: name, ln: ln, serve: serve, shutdown: shutdown})
	return nil
}

// dnsCacheTTL is how long MX intake reuses a DNS answer (see
// msgauth.CachingResolver).
const dnsCacheTTL = time.Minute

// boundPort is the TCP port of the named listener, 0 when it is disabled.
func (s *Server) boundPort(name string) int {
	if a, ok := s.Addr(name).(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

func (s *Server) addHTTP(ctx context.Context) error {
	var con http.Handler
	if s.cfg.Web.Enabled {
		c, err := console.New(console.Options{Admin: s.admin, Hostname: s.cfg.Hostname, Logger: s.log,
			Login: webLogin{s.login}, Roles: storeRoles{s.store}})
		if err != nil {
			return err
		}
		wm, err := mail.New(mail.Options{Store: s.store, Sessions: c, Submit: s.submit, MaxMessageBytes: s.cfg.Limits.MaxMessageBytes,
			Hostname: s.cfg.Hostname, Logger: s.log})
		if err != nil {
			return err
		}
		s.webmail = wm
		s.onStop = append(s.onStop, wm.Close)
		c.MountMail(wm.Handler())
		con = c.Handler()
		s.jobs = append(s.jobs, func(ctx context.Context) { sweepEvery(ctx, 5*time.Minute, c.Sweep) })
	}
	w := web.New(web.Options{
		Hostname: s.cfg.Hostname, Domains: s.store.DomainNames, IsLocalDomain: s.store.IsLocalDomain,
		MTASTSMode: s.cfg.TLS.MTASTSMode, TLS: s.tls, Logger: s.log,
		// Clients are told the ports we listen on (bound before this), so
		// the loopback trial setup (2993, 2465, 2587) autoconfigures too;
		// a disabled listener advertises the standard port.
		IMAPSPort:       s.boundPort("imaps"),
		SubmissionsPort: s.boundPort("submissions"),
		SubmissionPort:  s.boundPort("submission"),
		Healthy:         func() error { _, err := s.store.Domains(ctx); return err },
		Console:         con,
	})
	for _, l := range []struct {
		name, addr string
		handler    http.Handler
		tls        bool
	}{
		{"http", s.cfg.Listen.HTTP, s.tls.HTTPHandler(w.Handler()), false},
		{"https", s.cfg.Listen.HTTPS, w.Handler(), true},
		{"metrics", s.cfg.Listen.Metrics, w.MetricsHandler(s.metrics), false},
	} {
		hs := newHTTPServer(l.handler, s.log)
		if s.webmail != nil {
			// Open event streams end at shutdown; Shutdown waits for them.
			hs.RegisterOnShutdown(s.webmail.EndStreams)
		}
		serve := hs.Serve
		if l.tls {
			hs.TLSConfig = s.tls.TLSConfig()
			serve = func(ln net.Listener) error { return hs.ServeTLS(ln, "", "") }
		}
		if err := s.addService(l.name, l.addr, func(ln net.Listener) error {
			if err := serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}, shutdownHTTP(hs)); err != nil {
			return err
		}
	}
	return nil
}

// HTTP timeouts (issue 12 #8). net/http bounds the TLS handshake of https
// by the smallest of them, so a client that never sends a ClientHello is
// closed after httpReadHeaderTimeout. httpReadTimeout bounds a whole
// request with its body (a slow upload); it is generous for a 50 MiB
// attachment over a slow line. No WriteTimeout: a large download on a slow
// line is legitimate, and a stalled reader is cut by TCP keepalive.
const (
	httpReadHeaderTimeout = 10 * time.Second
	httpReadTimeout       = 5 * time.Minute
	httpIdleTimeout       = 2 * time.Minute
)

// shutdownHTTP returns hs's shutdown. http.Server.Shutdown leaves a
// connection that has not sent a request yet open for 5 s (it might be
// about to), which would hold up every shutdown by that long: those are
// closed at once; requests in progress still get the grace period.
func shutdownHTTP(hs *http.Server) func(context.Context) error {
	var mu sync.Mutex
	fresh := map[net.Conn]bool{} // connections that sent no request yet
	hs.ConnState = func(c net.Conn, st http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		if st == http.StateNew {
			fresh[c] = true
		} else {
			delete(fresh, c)
		}
	}
	return func(ctx context.Context) error {
		hs.SetKeepAlivesEnabled(false)
		mu.Lock()
		for c := range fresh {
			c.Close()
		}
		mu.Unlock()
		return hs.Shutdown(ctx)
	}
}

// newHTTPServer is the http.Server of every web listener.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		IdleTimeout:       httpIdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Addr returns the bound address of a listener by config name
// ("smtp", "imap", …), or nil if it is disabled.
func (s *Server) Addr(name string) net.Addr {
	for _, svc := range s.services {
		if svc.name == name {
			return svc.ln.Addr()
		}
	}
	return nil
}

// Store returns the server's store (for tests and in-process tools).
func (s *Server) Store() *store.Store { return s.store }

// Reload re-reads TLS files (SIGHUP).
func (s *Server) Reload() {
	if err := s.tls.Reload(); err != nil {
		s.log.Error("reload TLS certificate", "err", err)
		return
	}
	s.log.Info("TLS certificate reloaded")
}

// Run serves until ctx is cancelled, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errc := make(chan error, len(s.services))
	for _, svc := range s.services {
		s.log.Info("listening", "listener", svc.name, "addr", svc.ln.Addr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := svc.serve(svc.ln); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", svc.name, err)
			}
		}()
	}
	s.log.Info("admin socket", "path", admin.SocketPath(s.cfg.DataDir))
	// base is the context of everything the server runs besides the
	// listeners' sessions: the admin socket, background jobs, the startup
	// MX check. It is cancelled at shutdown once the sessions are done,
	// and every goroutine started on it is waited for.
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	var jobsWG sync.WaitGroup
	jobsWG.Add(1)
	go func() { defer jobsWG.Done(); admin.Serve(base, s.adminLn, s.admin, s.log) }()
	for _, job := range s.jobs {
		jobsWG.Add(1)
		go func() { defer jobsWG.Done(); s.supervise(base, job) }()
	}
	jobsWG.Add(1)
	go func() { defer jobsWG.Done(); s.checkMX(base) }()

	var runErr error
	select {
	case <-ctx.Done():
		s.log.Info("shutting down")
	case runErr = <-errc:
		s.log.Error("listener failed, shutting down", "err", runErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var swg sync.WaitGroup
	for _, svc := range s.services {
		swg.Add(1)
		go func() {
			defer swg.Done()
			if err := svc.shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				s.log.Warn("shutdown", "listener", svc.name, "err", err)
			}
		}()
	}
	swg.Wait()
	wg.Wait()
	cancelBase()
	jobsWG.Wait()
	s.closeAll()
	s.log.Info("stopped")
	return runErr
}

// closeAll releases everything New acquired.
func (s *Server) closeAll() {
	for _, svc := range s.services {
		svc.ln.Close()
	}
	for _, fn := range s.onStop {
		fn()
	}
	if s.adminLn != nil {
		s.adminLn.Close()
	}
	if s.tls != nil {
		s.tls.Close()
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			s.log.Error("close store", "err", err)
		}
	}
}

// sweepEvery calls fn every interval until ctx ends.
func sweepEvery(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
