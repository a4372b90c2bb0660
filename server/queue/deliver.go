package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailsrv/dns"
	"mailsrv/store"
)

// Timeouts bound each stage of one outbound SMTP session. The defaults are
// RFC 5321 §4.5.3.2's minimums; tests shorten them.
type Timeouts struct {
	Connect   time.Duration // TCP connect (RFC 5321 leaves it open): 30 s
	Greeting  time.Duration // initial 220: 5 min
	Command   time.Duration // EHLO, STARTTLS, MAIL, RCPT: 5 min
	DataInit  time.Duration // DATA's 354: 2 min
	DataBlock time.Duration // each write of the message: 3 min
	DataTerm  time.Duration // the reply to the final dot: 10 min
}

// DefaultTimeouts returns RFC 5321 §4.5.3.2's values.
func DefaultTimeouts() Timeouts {
	return Timeouts{Connect: 30 * time.Second, Greeting: 5 * time.Minute, Command: 5 * time.Minute,
		DataInit: 2 * time.Minute, DataBlock: 3 * time.Minute, DataTerm: 10 * time.Minute}
}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts()
	for _, f := range []struct{ v, def *time.Duration }{
		{&t.Connect, &d.Connect}, {&t.Greeting, &d.Greeting}, {&t.Command, &d.Command},
		{&t.DataInit, &d.DataInit}, {&t.DataBlock, &d.DataBlock}, {&t.DataTerm, &d.DataTerm},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return t
}

// job is the part of one queue item that goes to one domain (or, with a
// smarthost, all of the item's recipients).
type job struct {
	item  *store.QueueItem
	rcpts []string
}

// outcome is what happened to one recipient of one item in this round.
type outcome struct {
	itemID uint64
	rcpt   string
	ok     bool
	perm   bool   // permanent failure → bounce
	msg    string // remote answer or local error, for logs, LastError and DSNs
	mta    string // remote host that answered, "" if none
}

// session is one open outbound connection, reused for every job of a
// domain in a round (per-domain connection reuse).
type session struct {
	c        *smtp.Client
	host     string
	stop     func() bool // unregisters the close-on-shutdown hook
	timeouts Timeouts
}

func (s *session) close() {
	s.stop()
	s.c.Close()
}

// deliverDomain delivers jobs to domain over one reused connection and
// returns one outcome per recipient. It never returns early without
// outcomes: every recipient gets a verdict.
func (r *Runner) deliverDomain(ctx context.Context, domain string, jobs []job) []outcome {
	var out []outcome
	failAll := func(j job, perm bool, msg, mta string) {
		for _, rc := range j.rcpts {
			out = append(out, outcome{itemID: j.item.ID, rcpt: rc, perm: perm, msg: msg, mta: mta})
		}
	}
	var s *session
	defer func() {
		if s != nil {
			s.c.Quit()
			s.close()
		}
	}()
	for _, j := range jobs {
		if ctx.Err() != nil {
			failAll(j, false, "delivery interrupted by shutdown", "")
			continue
		}
		if s == nil {
			var err error
			s, err = r.connect(ctx, domain)
			if err != nil {
				failAll(j, dns.IsPermanent(err), err.Error(), "")
				continue
			}
		}
		res, broken := r.transact(ctx, s, j)
		out = append(out, res...)
		if broken {
			s.close()
			s = nil
		}
	}
	return out
}

// connect opens a session to the smarthost or to the best reachable MX of
// domain, with opportunistic STARTTLS. A connect or greeting failure
// (timeout included) moves on to the next address; only a failed TLS
// negotiation is retried in plain text on the same address.
func (r *Runner) connect(ctx context.Context, domain string) (*session, error) {
	type target struct{ host, addr string }
	var targets []target
	relay := r.cfg.Relay != ""
	if relay {
		host, _, err := net.SplitHostPort(r.cfg.Relay)
		if err != nil {
			return nil, fmt.Errorf("outbound.relay %q: %v", r.cfg.Relay, err)
		}
		targets = append(targets, target{host, r.cfg.Relay})
	} else {
		hosts, err := r.dns.MailHosts(ctx, domain)
		if err != nil {
			return nil, err
		}
		port := strconv.Itoa(r.port())
		var lastErr error
		for _, h := range hosts {
			ips, err := r.dns.HostAddrs(ctx, h)
			if err != nil {
				lastErr = err
				continue
			}
			for _, ip := range ips {
				targets = append(targets, target{h, net.JoinHostPort(ip, port)})
			}
		}
		if len(targets) == 0 {
			if lastErr == nil {
				lastErr = fmt.Errorf("no usable mail exchanger for %s", domain)
			}
			// An MX host without addresses is the remote admin's
			// mistake of the moment: retried, not bounced.
			return nil, errors.New(lastErr.Error())
		}
	}
	var lastErr error
	for _, t := range targets {
		// With a smarthost that carries credentials, TLS is verified and
		// never dropped; to an MX, a peer whose TLS negotiation fails gets
		// a second, plain connection, as opportunistic TLS (RFC 3207
		// §4.1) must not make mail undeliverable.
		for _, useTLS := range []bool{true, false} {
			if !useTLS && relay && r.cfg.RelayUsername != "" {
				break
			}
			s, err := r.dialOne(ctx, t.host, t.addr, useTLS, relay)
			if err == nil {
				return s, nil
			}
			lastErr = fmt.Errorf("%s (%s): %w", t.host, t.addr, err)
			var te *tlsError
			if !errors.As(err, &te) {
				break
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// tlsError is a failed STARTTLS negotiation: the only failure after which
// the same host is tried again in plain text.
type tlsError struct{ err error }

func (e *tlsError) Error() string { return "STARTTLS: " + e.err.Error() }
func (e *tlsError) Unwrap() error { return e.err }

// dialOne connects to addr, reads the greeting and says EHLO (upgrading
// with STARTTLS first when useTLS and the peer offers it).
func (r *Runner) dialOne(ctx context.Context, host, addr string, useTLS, relay bool) (*session, error) {
	t := r.timeouts
	d := net.Dialer{Timeout: t.Connect}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	// Shutdown interrupts a session blocked on a silent peer.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	var cfg *tls.Config
	if useTLS {
		cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if !relay {
			// Opportunistic TLS to an MX: encryption against passive
			// eavesdroppers, no authentication (like Postfix's "may").
			cfg.InsecureSkipVerify = true
		}
		if r.clientTLS != nil {
			cfg = r.clientTLS.Clone()
		}
	}
	conn, err := greet(nc, r.hostname, cfg, t)
	if err != nil {
		stop()
		nc.Close()
		return nil, err
	}
	c := smtp.NewClient(&blockConn{Conn: conn, block: t.DataBlock})
	c.CommandTimeout, c.SubmissionTimeout = t.Command, t.DataTerm
	fail := func(err error) (*session, error) {
		stop()
		c.Close()
		return nil, err
	}
	if err := c.Hello(r.hostname); err != nil {
		return fail(err)
	}
	if relay && r.cfg.RelayUsername != "" {
		if err := c.Auth(sasl.NewPlainClient("", r.cfg.RelayUsername, r.cfg.RelayPassword)); err != nil {
			return fail(fmt.Errorf("relay AUTH: %w", err))
		}
	}
	return &session{c: c, host: host, stop: stop, timeouts: t}, nil
}

// greet reads the 220 greeting (Timeouts.Greeting) and, with cfg, runs
// EHLO and STARTTLS and the handshake. go-smtp's client can only do
// STARTTLS after an EHLO as "localhost" (its exported StartTLS constructor
// does not take our name), so this first exchange is spoken here, and the
// returned conn replays a 220 greeting to the go-smtp client that
// continues (over TLS, it then sends EHLO again, as RFC 3207 requires).
// Without STARTTLS on offer the client's EHLO is simply the second one.
func greet(nc net.Conn, hostname string, cfg *tls.Config, t Timeouts) (net.Conn, error) {
	nc.SetDeadline(time.Now().Add(t.Greeting))
	defer nc.SetDeadline(time.Time{})
	tp := textproto.NewConn(nc)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, fmt.Errorf("greeting: %w", err)
	}
	replay := func(c net.Conn, rd io.Reader) net.Conn {
		return &replayConn{Conn: c, r: io.MultiReader(strings.NewReader("220 replay\r\n"), rd)}
	}
	if cfg == nil {
		return replay(nc, tp.R), nil
	}
	nc.SetDeadline(time.Now().Add(t.Command))
	id, err := tp.Cmd("EHLO %s", hostname)
	if err != nil {
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	tp.StartResponse(id)
	_, ext, err := tp.ReadResponse(250)
	tp.EndResponse(id)
	if err != nil {
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	offered := false
	for _, l := range strings.Split(ext, "\n") {
		if strings.EqualFold(strings.TrimSpace(l), "STARTTLS") {
			offered = true
		}
	}
	if !offered {
		return replay(nc, tp.R), nil
	}
	id, err = tp.Cmd("STARTTLS")
	if err != nil {
		return nil, fmt.Errorf("STARTTLS: %w", err)
	}
	tp.StartResponse(id)
	_, _, err = tp.ReadResponse(220)
	tp.EndResponse(id)
	var te *textproto.Error
	switch {
	case errors.As(err, &te):
		return nil, &tlsError{err} // refused (454…): plain is worth a try
	case err != nil:
		return nil, fmt.Errorf("STARTTLS: %w", err)
	}
	tc := tls.Client(nc, cfg)
	if err := tc.Handshake(); err != nil {
		return nil, &tlsError{err}
	}
	return replay(tc, tc), nil
}

// blockConn bounds every write (the message's data blocks) by a deadline;
// go-smtp sets none while the body streams.
type blockConn struct {
	net.Conn
	block time.Duration
}

func (c *blockConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.block))
	return c.Conn.Write(p)
}

// replayConn reads from r (a replayed greeting, then the connection).
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// transact runs one MAIL/RCPT/DATA transaction for j. broken reports that
// the connection is unusable for further jobs.
func (r *Runner) transact(ctx context.Context, s *session, j job) (out []outcome, broken bool) {
	id := j.item.ID
	all := func(perm bool, msg string) []outcome {
		var o []outcome
		for _, rc := range j.rcpts {
			o = append(o, outcome{itemID: id, rcpt: rc, perm: perm, msg: msg, mta: s.host})
		}
		return o
	}
	if err := s.c.Mail(j.item.From, nil); err != nil {
		perm, isProto := classify(err)
		if isProto {
			s.c.Reset()
		}
		return all(perm, "MAIL FROM: "+describe(err)), !isProto
	}
	var accepted []string
	for i, rc := range j.rcpts {
		if err := s.c.Rcpt(rc, nil); err != nil {
			perm, isProto := classify(err)
			if !isProto {
				// Connection lost: everything not yet refused is deferred.
				for _, rest := range append(accepted, j.rcpts[i:]...) {
					out = append(out, outcome{itemID: id, rcpt: rest, msg: err.Error(), mta: s.host})
				}
				return out, true
			}
			out = append(out, outcome{itemID: id, rcpt: rc, perm: perm, msg: "RCPT TO: " + describe(err), mta: s.host})
			continue
		}
		accepted = append(accepted, rc)
	}
	if len(accepted) == 0 {
		return out, s.c.Reset() != nil
	}
	fail := func(err error) ([]outcome, bool) {
		perm, isProto := classify(err)
		for _, rc := range accepted {
			out = append(out, outcome{itemID: id, rcpt: rc, perm: perm, msg: "DATA: " + describe(err), mta: s.host})
		}
		return out, !isProto
	}
	s.c.CommandTimeout = s.timeouts.DataInit
	w, err := s.c.Data()
	s.c.CommandTimeout = s.timeouts.Command
	if err != nil {
		return fail(err)
	}
	rd, err := r.st.OpenQueued(ctx, j.item)
	if err != nil {
		// The body is gone (should not happen: the item holds a blob
		// reference). Abandon the connection so the peer never receives
		// a truncated message, and defer. (Closing the data writer would
		// send the final dot and deliver an empty message.)
		s.c.Close()
		return fail(fmt.Errorf("opening queued message: %w", err))
	}
	_, cerr := io.Copy(w, rd)
	rd.Close()
	if cerr != nil {
		// The data stream cannot be cancelled cleanly in SMTP; dropping the
		// connection makes the peer discard the partial message.
		return fail(cerr)
	}
	if err := w.Close(); err != nil {
		return fail(err)
	}
	for _, rc := range accepted {
		out = append(out, outcome{itemID: id, rcpt: rc, ok: true, msg: "250 accepted", mta: s.host})
	}
	return out, false
}

// classify says whether err is a permanent (5xx) failure and whether it is
// an SMTP reply at all (false = network or protocol breakage, retried).
func classify(err error) (perm, isProto bool) {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code >= 500, true
	}
	return false, false
}

// describe renders an SMTP reply as "550 5.1.1 text" (go-smtp's Error
// omits the enhanced code, which DSNs need).
func describe(err error) string {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return err.Error()
	}
	s := strconv.Itoa(se.Code)
	if e := se.EnhancedCode; e != smtp.NoEnhancedCode && e[0] > 0 {
		s += fmt.Sprintf(" %d.%d.%d", e[0], e[1], e[2])
	}
	return s + " " + se.Message
}
