// Package smtpd owns mailsrv's SMTP listeners: MX intake on port 25
// (mx.go) and authenticated submission on 587/465 (submission*.go). Both
// are emersion/go-smtp servers, one instance per role, so the MX instance
// never offers AUTH and the submission instance never accepts unauthenticated
// relaying.
//
// This file holds the plumbing both roles share, so that they behave alike:
//
//   - Server wraps a *smtp.Server with a listener that caps concurrent
//     connections per client network (limits.max_connections_per_ip, keyed
//     like auth.IPKey: IPv6 /64) and in total (limits.max_connections),
//     answering 421 4.7.0 (inside TLS on 465, after a bounded handshake),
//     counts connections in metrics, and gives every connection an id that
//     appears in every log line of that connection (connInfoOf).
//   - Timeouts: go-smtp only sets the read deadline before each command
//     line, so a long DATA transfer would run into the deadline set for the
//     DATA command. dataReader refreshes the deadline on every read, so the
//     timeout bounds silence, not transfer time.
//   - Line endings and NUL bytes in message data are normalised by
//     dataReader like Postfix ≥ 3.9 with smtpd_forbid_bare_newline=normalize
//     and message_strip_characters=\0: a bare LF is stored as CRLF, NUL bytes
//     are dropped, bare CR is kept. The end of data must still be the
//     standard CRLF.CRLF (go-smtp enforces that; "\n.\n" does not end the
//     message, which keeps SMTP smuggling out). Mail is accepted rather than
//     rejected because real senders (scripts, old appliances) produce bare
//     LFs, and every reader downstream (IMAP, DKIM) expects CRLF.
//   - Shutdown stops accepting, closes idle connections at once and gives
//     connections inside a mail transaction a grace period to finish, so a
//     message is never cut off between its fsync and its 250.
//   - teeStream reads a message once and feeds it both to the blob writer
//     and to a consumer running concurrently (DKIM verification for MX, DKIM
//     signing for submission), so the body is never buffered in memory.
package smtpd

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"mailsrv/auth"
	"mailsrv/server/config"
	"mailsrv/server/metrics"
	"mailsrv/server/tlsconf"
)

// Defaults for timeouts. RFC 5321 section 4.5.3.2 asks servers to wait at
// least 5 minutes for commands and 3 minutes per data block.
const (
	DefaultReadTimeout  = 5 * time.Minute
	DefaultWriteTimeout = 5 * time.Minute
	// DefaultShutdownGrace is how long Shutdown lets a connection that is
	// inside a mail transaction finish before it is closed.
	DefaultShutdownGrace = 5 * time.Second
	// MaxLineLength bounds a command line and a line of message data.
	// RFC 5321 allows 1000 octets; Postfix splits longer data lines at
	// 2048, which go-smtp cannot do (its line limit sits below the data
	// reader), so we accept lines up to 64 KiB (unwrapped base64, HTML
	// generators) and answer longer ones with 500 5.5.2 before closing.
	MaxLineLength = 64 << 10
)

// serverConfig is what a role (MX, submission) passes to newServer.
type serverConfig struct {
	// Name is the listener name used as metrics label and log attribute:
	// "smtp", "submission" or "submissions".
	Name     string
	Hostname string
	Limits   config.Limits
	// TLS enables STARTTLS (or implicit TLS with ImplicitTLS); nil = none.
	TLS         *tls.Config
	ImplicitTLS bool
	Metrics     *metrics.Metrics
	Log         *slog.Logger
	Backend     smtp.Backend
	// Zero values mean the defaults above; HandshakeTimeout bounds the TLS
	// handshake of an implicit-TLS listener (tlsconf.DefaultHandshakeTimeout).
	ReadTimeout, WriteTimeout, ShutdownGrace, HandshakeTimeout time.Duration
	// UnknownRcptDelay is the tarpit step (DefaultUnknownRcptDelay).
	UnknownRcptDelay time.Duration
}

// Server is one SMTP listener role. Create it with NewMX (or the submission
// constructor); Serve may be called for several listeners.
type Server struct {
	smtp    *smtp.Server
	name    string
	tls     *tls.Config
	implTLS bool
	log     *slog.Logger
	metrics *metrics.Metrics
	perIP   int
	maxConn int
	readTO  time.Duration
	grace   time.Duration
	hsTO    time.Duration
	// tarpitBase is the unknown-recipient tarpit step (answers.go).
	tarpitBase time.Duration

	mu       sync.Mutex
	closing  bool
	conns    map[*trackedConn]struct{}
	perIPNow map[string]int
	lns      []net.Listener
	serving  sync.WaitGroup

	seq    atomic.Uint64
	prefix string // random per-server prefix of connection ids

	// base is the context of every session's store calls; Shutdown
	// cancels it once the connections are closed.
	base       context.Context
	cancelBase context.CancelFunc
}

// newServer builds the go-smtp server with the shared settings. Role
// specific settings (MaxMessageBytes, AllowInsecureAuth, ...) are set by the
// caller on s.smtp before Serve.
func newServer(cfg serverConfig) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	if cfg.UnknownRcptDelay <= 0 {
		cfg.UnknownRcptDelay = DefaultUnknownRcptDelay
	}
	log := cfg.Log.With("listener", cfg.Name)
	ss := smtp.NewServer(cfg.Backend)
	ss.Domain = cfg.Hostname
	ss.ReadTimeout = cfg.ReadTimeout
	ss.WriteTimeout = cfg.WriteTimeout
	ss.MaxLineLength = MaxLineLength
	ss.EnableSMTPUTF8 = true
	ss.ErrorLog = slogLogger{log}
	if !cfg.ImplicitTLS {
		ss.TLSConfig = cfg.TLS // STARTTLS is offered iff non-nil
	}
	var rnd [3]byte
	rand.Read(rnd[:])
	base, cancelBase := context.WithCancel(context.Background())
	return &Server{
		base:       base,
		cancelBase: cancelBase,
		smtp:       ss,
		name:       cfg.Name,
		tls:        cfg.TLS,
		implTLS:    cfg.ImplicitTLS,
		log:        log,
		metrics:    cfg.Metrics,
		perIP:      cfg.Limits.MaxConnectionsPerIP,
		maxConn:    cfg.Limits.MaxConnections,
		readTO:     cfg.ReadTimeout,
		grace:      cfg.ShutdownGrace,
		hsTO:       cfg.HandshakeTimeout,
		tarpitBase: cfg.UnknownRcptDelay,
		conns:      make(map[*trackedConn]struct{}),
		perIPNow:   make(map[string]int),
		prefix:     hex.EncodeToString(rnd[:]),
	}
}

// Serve accepts connections on ln until Shutdown. It returns nil after
// Shutdown, otherwise the listener's error.
func (s *Server) Serve(ln net.Listener) error {
	if s.implTLS && s.tls == nil {
		return errors.New("smtpd: implicit TLS listener without a TLS configuration")
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns = append(s.lns, ln)
	s.serving.Add(1)
	s.mu.Unlock()
	defer s.serving.Done()

	var l net.Listener = &trackingListener{Listener: ln, s: s}
	if s.implTLS {
		// TLS goes on top of the tracking listener so that go-smtp sees a
		// *tls.Conn (it checks the type to report TLS state). Handshakes
		// run concurrently under a deadline, and a refusal is answered
		// inside TLS, once the handshake is done (afterHandshake).
		l = tlsconf.HandshakeListener(l, s.tls, s.hsTO, s.afterHandshake)
	}
	err := s.smtp.Serve(l)
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return nil
	}
	return err
}

// Shutdown stops accepting, closes connections that are between
// transactions and waits up to the grace period (or ctx) for the others,
// then closes whatever is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	lns := s.lns
	s.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	deadline := time.NewTimer(s.grace)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		// Collect under the lock, close outside it: Close takes s.mu.
		var idle []*trackedConn
		s.mu.Lock()
		left := 0
		for c := range s.conns {
			if c.busy.Load() == 0 {
				idle = append(idle, c)
			} else {
				left++
			}
		}
		s.mu.Unlock()
		for _, c := range idle {
			c.Close()
		}
		if left == 0 {
			break
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	// go-smtp's Close closes listeners and every remaining connection.
	if err := s.smtp.Close(); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		s.log.Debug("close", "err", err)
	}
	s.serving.Wait()
	s.cancelBase()
	return nil
}

// trackingListener applies the per-IP cap and wraps accepted connections.
type trackingListener struct {
	net.Listener
	s *Server
}

func (l *trackingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tc := l.s.track(c); tc != nil {
			return tc, nil
		}
	}
}

// track registers c, or refuses it with 421 when the server or c's network
// (auth.IPKey: IPv4 address, IPv6 /64) is over its cap: then it returns
// nil and the listener accepts the next connection. On an implicit-TLS
// listener the refusal must be written inside TLS, so the connection is
// returned uncounted with its refusal pending (see afterHandshake).
func (s *Server) track(c net.Conn) *trackedConn {
	ip := remoteIP(c.RemoteAddr())
	key := auth.IPKey(c.RemoteAddr())
	id := fmt.Sprintf("%s%06x", s.prefix, s.seq.Add(1))
	tc := &trackedConn{Conn: c, s: s, ipKey: key, info: &connInfo{
		ID:       id,
		RemoteIP: ip,
		Log:      s.log.With("conn", id, "remote", ip.String()),
	}}
	s.mu.Lock()
	switch {
	case s.maxConn > 0 && len(s.conns) >= s.maxConn:
		tc.refusal, tc.reason = "421 4.7.0 Too many connections to this server, try again later\r\n", "server_conn_limit"
	case s.perIP > 0 && s.perIPNow[key] >= s.perIP:
		tc.refusal, tc.reason = "421 4.7.0 Too many connections from your address, try again later\r\n", "conn_limit"
	default:
		s.perIPNow[key]++
		s.conns[tc] = struct{}{}
		tc.counted = true
	}
	s.mu.Unlock()
	if tc.refusal != "" {
		s.metrics.SMTPRejected(s.name, tc.reason)
		tc.info.Log.Info("connection refused: too many connections", "reason", tc.reason, "per_ip_limit", s.perIP, "limit", s.maxConn)
		if s.implTLS {
			return tc
		}
		tc.refuse(c)
		return nil
	}
	s.metrics.ConnOpened(s.name)
	tc.info.Log.Debug("connected")
	return tc
}

// afterHandshake writes a pending refusal inside TLS (HandshakeListener).
func (s *Server) afterHandshake(c *tls.Conn) bool {
	tc, ok := c.NetConn().(*trackedConn)
	if !ok || tc.refusal == "" {
		return true
	}
	tc.refuse(c)
	return false
}

// refuse writes the 421 on w (the plain or the TLS connection) and closes.
// Best effort, with a short deadline: never block on a slow client.
func (c *trackedConn) refuse(w net.Conn) {
	w.SetWriteDeadline(time.Now().Add(time.Second))
	io.WriteString(w, c.refusal)
	w.Close()
}

// connInfo is what a session knows about its connection.
type connInfo struct {
	ID       string // short unique id, in every log line and the Received id
	RemoteIP net.IP
	Log      *slog.Logger // carries listener, conn and remote attributes
}

// trackedConn is an accepted connection. busy > 0 while the session is
// inside a mail transaction (MAIL ... end of DATA); Shutdown waits for it.
type trackedConn struct {
	net.Conn
	s     *Server
	ipKey string
	info  *connInfo
	busy  atomic.Int32
	once  sync.Once
	// closeNext: close after the next write (closeAfterNextWrite).
	closeNext atomic.Bool
	// refusal is the 421 line of a connection over a cap, not counted in
	// the server's maps (counted false), written after the TLS handshake.
	refusal, reason string
	counted         bool
}

// closeAfterNextWrite makes the connection close right after its next
// write (the final answer of a session we end, e.g. 421 after too many
// failed logins). Below TLS, one answer is one write of one record.
func (c *trackedConn) closeAfterNextWrite() { c.closeNext.Store(true) }

func (c *trackedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if c.closeNext.Load() {
		c.Close()
	}
	return n, err
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	if !c.counted {
		return err
	}
	c.once.Do(func() {
		s := c.s
		s.mu.Lock()
		delete(s.conns, c)
		if s.perIPNow[c.ipKey]--; s.perIPNow[c.ipKey] <= 0 {
			delete(s.perIPNow, c.ipKey)
		}
		s.mu.Unlock()
		s.metrics.ConnClosed(s.name)
		c.info.Log.Debug("disconnected")
	})
	return err
}

// trackedOf finds our wrapper below go-smtp's connection (which may be a
// *tls.Conn after STARTTLS or on an implicit-TLS listener).
func trackedOf(c *smtp.Conn) *trackedConn {
	nc := c.Conn()
	for range 4 {
		switch v := nc.(type) {
		case *trackedConn:
			return v
		case *tls.Conn:
			nc = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// connInfoOf returns the connection's id, address and logger. It never
// returns nil: connections not accepted through Serve (which should not
// happen) get an info built from the remote address.
func (s *Server) connInfoOf(c *smtp.Conn) *connInfo {
	if tc := trackedOf(c); tc != nil {
		return tc.info
	}
	ip := remoteIP(c.Conn().RemoteAddr())
	return &connInfo{ID: "untracked", RemoteIP: ip, Log: s.log.With("remote", ip.String())}
}

// setBusy marks the connection as inside (true) or outside a transaction.
func setBusy(c *smtp.Conn, busy bool) {
	tc := trackedOf(c)
	if tc == nil {
		return
	}
	if busy {
		tc.busy.Store(1)
	} else {
		tc.busy.Store(0)
	}
}

func remoteIP(a net.Addr) net.IP {
	switch v := a.(type) {
	case *net.TCPAddr:
		return v.IP
	case nil:
		return nil
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return nil
	}
	return net.ParseIP(host)
}

// dataReader wraps go-smtp's DATA/BDAT reader: it refreshes the read
// deadline before each read (so the timeout bounds idle time, not the
// transfer) and normalises bare LF to CRLF and drops NUL bytes (see the
// package doc).
type dataReader struct {
	r       io.Reader
	conn    net.Conn
	timeout time.Duration
	prevCR  bool
	lineLen int // bytes of the current line so far
	buf     []byte
	pending []byte // normalised bytes not yet returned
	err     error  // read error to return once pending is drained
}

func newDataReader(c *smtp.Conn, r io.Reader, timeout time.Duration) *dataReader {
	return &dataReader{r: r, conn: c.Conn(), timeout: timeout}
}

func (d *dataReader) Read(p []byte) (int, error) {
	if len(d.pending) > 0 {
		n := copy(p, d.pending)
		d.pending = d.pending[n:]
		return n, nil
	}
	if d.err != nil {
		return 0, d.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if d.timeout > 0 && d.conn != nil {
		d.conn.SetReadDeadline(time.Now().Add(d.timeout))
	}
	// Read at most half of p so that expansion (LF -> CRLF doubles at
	// worst) usually fits; the rest goes to pending.
	want := max(len(p)/2, 1)
	if cap(d.buf) < want {
		d.buf = make([]byte, want)
	}
	n, err := d.r.Read(d.buf[:want])
	out := p[:0]
	var spill []byte
	put := func(b byte) {
		if len(out) < len(p) {
			out = append(out, b)
		} else {
			spill = append(spill, b)
		}
	}
	for _, b := range d.buf[:n] {
		switch b {
		case 0:
			continue
		case '\n':
			if !d.prevCR {
				put('\r')
			}
			d.lineLen = -1
		}
		put(b)
		d.prevCR = b == '\r'
		// The DATA line limit holds for BDAT too: go-smtp applies it only
		// to DATA, so a 70 KB line passed as a chunk (issue 12 #9).
		if d.lineLen++; d.lineLen > MaxLineLength {
			d.pending, d.err = nil, smtp.ErrTooLongLine
			return 0, smtp.ErrTooLongLine
		}
	}
	d.pending = spill
	if err != nil && len(spill) > 0 {
		d.err = err
		err = nil
	}
	return len(out), err
}

// teeStream copies src to dst and, at the same time, to consume running in
// its own goroutine, so the message is read once. consume may stop reading
// early (e.g. after the header): the rest is drained for it. It returns
// the bytes copied, the copy error (reading src or writing dst) and
// consume's error; on a copy error consume's reader fails with it.
func teeStream(dst io.Writer, src io.Reader, consume func(io.Reader) error) (int64, error, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		// consume parses untrusted input (DKIM verification): a panic in
		// it must fail this message, not kill the server, which it would
		// in a goroutine go-smtp's per-connection recover does not cover.
		var err error
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("internal error checking the message: %v", r)
			}
			io.Copy(io.Discard, pr) // keep the writer flowing
			done <- err
		}()
		err = consume(pr)
	}()
	n, err := io.Copy(io.MultiWriter(dst, pw), src)
	if err != nil {
		pw.CloseWithError(err)
	} else {
		pw.Close()
	}
	cerr := <-done
	return n, err, cerr
}

// smtpError builds a go-smtp error answer.
func smtpError(code int, enh smtp.EnhancedCode, msg string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

// slogLogger adapts slog to go-smtp's ErrorLog interface. go-smtp reports
// mostly client-side trouble there (resets, TLS handshakes that fail), which
// is routine on an Internet-facing port: Info, not Warn.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Printf(format string, v ...any) { s.l.Info(fmt.Sprintf(format, v...)) }
func (s slogLogger) Println(v ...any)               { s.l.Info(fmt.Sprint(v...)) }
