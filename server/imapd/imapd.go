// Package imapd owns the IMAP server of mailsrv (ports 143 with STARTTLS and
// 993 with implicit TLS). It is a backend for emersion/go-imap/v2's
// imapserver over store/: the protocol parser and response encoder are
// go-imap's, and everything else (mailbox naming, rights, change
// notification, fetch/search evaluation) lives here.
//
// Design decisions:
//
//   - Data is never cached past a command. Rights are read from the store at
//     every command that touches a shared mailbox (store.RightsOf is one
//     cheap read transaction), so a revoke applies to the next command.
//   - Change notification: one store subscription per Server feeds a
//     registry of open folders (registry.go). Each open folder has one
//     go-imap MailboxTracker plus the ordered UID list that maps sequence
//     numbers to UIDs; events are applied in commit order under the
//     folder's lock, one tracker update per message, so EXISTS/EXPUNGE
//     counts never go out of step (MailboxTracker panics if they do).
//   - FETCH reads metadata in chunks of fetchChunk UIDs and writes each
//     chunk to the client only after the store's read transaction has
//     ended (the store copies data out), so a bbolt read transaction is
//     never held while writing to a slow client and memory stays bounded.
//     ENVELOPE comes from the store's cached envelope; BODY[] is streamed
//     from the blob file. FETCH (FLAGS) — every client's resync — reads only
//     the compact flags bucket and writes each chunk in one write
//     (fetch.go explains why bypassing go-imap's per-response flush is
//     safe); other multi-response commands gather writes in batchConn.
//   - A revoke reaches open sessions: before any untagged data of a shared
//     folder goes out (the poll after each command, IDLE), the rights are
//     read again; without the read right the session ends with
//     "* BYE [ALERT] Access to <folder> was revoked" (revoke.go says why
//     BYE rather than a silent unselect).
//   - go-imap v2 (beta.8) treats SELECT as read-write; read-only state
//     (EXAMINE, or a shared folder without the manage right) is enforced
//     here: every write answers NO [NOPERM]. Upstream's tagged SELECT
//     answer is always [READ-WRITE]; the copy in third_party/go-imap is
//     patched so Select can downgrade it, and a read-only SELECT answers
//     [READ-ONLY] with PERMANENTFLAGS listing what STORE accepts: (\Seen)
//     for a reader, () under EXAMINE (SPEC §5, RFC 4314 §4).
package imapd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailsrv/auth"
	"mailsrv/auth/login"
	"mailsrv/server/config"
	"mailsrv/server/mailsearch"
	"mailsrv/server/metrics"
	"mailsrv/server/tlsconf"
)

// Defaults for limits left at zero in config.Limits.
const (
	DefaultMaxConnsPerIP   = 50
	DefaultMaxConnsPerUser = 20
	defaultMaxMessageBytes = 50 << 20
	// IdleTimeout ends an IDLE command (RFC 3501 §5.4: at least 30
	// minutes). Between commands go-imap's own read timeout (35 min) applies.
	IdleTimeout = 30 * time.Minute
)

// Options configure a Server.
type Options struct {
	Store    Store
	Hostname string
	Limits   config.Limits
	// TLS is used for STARTTLS on Serve and for ServeTLS. Nil disables both.
	TLS *tls.Config
	// Login is the login decision (throttle included) shared with
	// submission and the web login. Nil means a private one over Store.
	Login   *login.Authenticator
	Metrics *metrics.Metrics
	Log     *slog.Logger
	// AllowInsecureAuth permits LOGIN/AUTHENTICATE without TLS (tests,
	// loopback benchmarks).
	AllowInsecureAuth bool
	// HandshakeTimeout bounds the TLS handshake on ServeTLS (0:
	// tlsconf.DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration

	noQuickAck bool // tests: measure the delayed-ACK stall TCP_QUICKACK removes
}

// Server is an IMAP server over a store.
type Server struct {
	opts     Options
	st       Store
	log      *slog.Logger
	login    *login.Authenticator
	imap     *imapserver.Server
	reg      *registry
	unsub    func()
	maxBytes int64
	search   *mailsearch.Searcher // SEARCH matching, shared with the webmail
	connSeq  atomic.Uint64        // connection ids, as smtpd's
	acls     *aclWatch            // wakes IDLE on rights changes (revoke.go)
	unsubACL func()
	bodies   bodyBufs // buffers of bodies a FETCH reads whole (bodybuf.go)

	mu      sync.Mutex
	perIP   map[string]int
	perUser map[string]int
	closed  bool

	// base is the context of every session's store calls; Close cancels
	// it after the connections are dropped.
	base       context.Context
	cancelBase context.CancelFunc
}

// New returns a server; call Serve/ServeTLS to accept connections.
func New(opts Options) *Server {
	base, cancelBase := context.WithCancel(context.Background())
	s := &Server{
		base:       base,
		cancelBase: cancelBase,
		opts:       opts,
		st:         opts.Store,
		log:        opts.Log,
		login:      opts.Login,
		perIP:      map[string]int{},
		perUser:    map[string]int{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("proto", "imap")
	if s.login == nil {
		s.login = login.New(s.st, nil, auth.NewThrottle(opts.Limits.AuthFailuresPerMinute, nil, nil))
	}
	s.maxBytes = opts.Limits.MaxMessageBytes
	if s.maxBytes <= 0 {
		s.maxBytes = defaultMaxMessageBytes
	}
	if s.maxBytes > 1<<32-1 {
		s.maxBytes = 1<<32 - 1 // APPENDLIMIT is a uint32
	}
	s.search = mailsearch.New(s.st)
	s.acls = newACLWatch()
	s.unsubACL = s.st.Subscribe(s.acls.handle)
	s.reg = newRegistry(s.st, s.log)
	s.unsub = s.st.Subscribe(s.reg.handle)
	caps := imap.CapSet{}
	for _, c := range []imap.Cap{
		imap.CapIMAP4rev1, imap.CapIMAP4rev2, imap.CapNamespace, imap.CapUIDPlus,
		imap.CapESearch, imap.CapListExtended, imap.CapListStatus, imap.CapMove,
		imap.CapStatusSize, imap.CapBinary, imap.CapSpecialUse, imap.CapChildren,
		imap.CapLiteralPlus,                // RFC 7888; go-imap's reader honours it
		imap.CapCondStore, imap.CapQResync, // RFC 7162, condstore.go
	} {
		caps[c] = struct{}{}
	}
	s.imap = imapserver.New(&imapserver.Options{
		NewSession:   s.newSession,
		Caps:         caps,
		Logger:       slogPrintf{s.log},
		TLSConfig:    opts.TLS,
		InsecureAuth: opts.AllowInsecureAuth,
	})
	return s
}

// Serve accepts plain connections (port 143; STARTTLS when TLS is set).
func (s *Server) Serve(ln net.Listener) error { return s.imap.Serve(s.batchListener(ln)) }

// ServeTLS accepts implicit-TLS connections (port 993).
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.opts.TLS == nil {
		return errors.New("imapd: ServeTLS needs Options.TLS")
	}
	// Handshakes run concurrently under a deadline, so a client that never
	// sends a ClientHello is closed (issue 12 #8).
	return s.imap.Serve(tlsconf.HandshakeListener(s.batchListener(ln), s.opts.TLS, s.opts.HandshakeTimeout, nil))
}

// Close stops the listeners and drops every connection.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.unsub()
	s.unsubACL()
	err := s.imap.Close()
	s.cancelBase()
	return err
}

// Shutdown closes the server; IMAP sessions are stateless on the server
// side (every change is committed before its OK), so there is nothing to
// drain. ctx is accepted for symmetry with the other listeners.
func (s *Server) Shutdown(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) maxPerIP() int {
	if n := s.opts.Limits.MaxConnectionsPerIP; n > 0 {
		return n
	}
	return DefaultMaxConnsPerIP
}

func (s *Server) maxPerUser() int {
	if n := s.opts.Limits.MaxIMAPConnectionsPerUser; n > 0 {
		return n
	}
	return DefaultMaxConnsPerUser
}

// acquire counts one connection under key in m; false when at max.
func (s *Server) acquire(m map[string]int, key string, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m[key] >= max {
		return false
	}
	m[key]++
	return true
}

func (s *Server) release(m map[string]int, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m[key] <= 1 {
		delete(m, key)
	} else {
		m[key]--
	}
}

func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	ipKey := auth.IPKey(c.NetConn().RemoteAddr())
	if n := s.opts.Limits.MaxConnections; n > 0 && !s.acquire(s.perIP, "all", n) {
		return nil, nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Too many connections to this server, try again later"}
	}
	if !s.acquire(s.perIP, ipKey, s.maxPerIP()) {
		if s.opts.Limits.MaxConnections > 0 {
			s.release(s.perIP, "all")
		}
		return nil, nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Too many connections from your address"}
	}
	s.opts.Metrics.ConnOpened("imap")
	id := fmt.Sprintf("i%06x", s.connSeq.Add(1))
	log := s.log.With("conn", id, "remote", ipKey)
	log.Debug("connected")
	return &session{ctx: s.base, srv: s, conn: c, ipKey: ipKey, started: time.Now(), id: id, log: log}, nil, nil
}

// slogPrintf adapts slog to go-imap's Printf logger. go-imap logs through
// it only what went wrong: a command that failed with an unexpected error
// (answered NO [SERVERBUG]) or a panic is an error, the rest (a client
// that went away mid-command) a warning.
type slogPrintf struct{ l *slog.Logger }

func (p slogPrintf) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if strings.HasPrefix(format, "handling ") || strings.HasPrefix(format, "panic") {
		p.l.Error(msg)
		return
	}
	p.l.Warn(msg)
}
