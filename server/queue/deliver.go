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

	"mailsrv/store"
)

// Timeouts of one outbound SMTP session. RFC 5321 §4.5.3.2 suggests
// minutes; a small server with few queued messages prefers to give up on a
// hung peer sooner and retry later.
const (
	dialTimeout    = 30 * time.Second
	commandTimeout = 2 * time.Minute
	dataTimeout    = 10 * time.Minute
)

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
	c    *smtp.Client
	host string
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
			s.c.Close()
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
				failAll(j, isPermanent(err), err.Error(), "")
				continue
			}
		}
		res, broken := r.transact(s, j)
		out = append(out, res...)
		if broken {
			s.c.Close()
			s = nil
		}
	}
	return out
}

// connect opens a session to the smarthost or to the best reachable MX of
// domain, with opportunistic STARTTLS.
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
		hosts, err := r.res.mxHosts(ctx, domain)
		if err != nil {
			return nil, err
		}
		port := strconv.Itoa(r.port())
		var lastErr error
		for _, h := range hosts {
			ips, err := r.res.addrs(ctx, h)
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
			return nil, lastErr
		}
	}
	var lastErr error
	for _, t := range targets {
		// Try with STARTTLS first; a peer whose TLS handshake fails gets a
		// second, plain connection, as opportunistic TLS (RFC 3207 §4.1)
		// must not make mail undeliverable. With a smarthost that carries
		// credentials, TLS is verified and never dropped.
		for _, useTLS := range []bool{true, false} {
			if !useTLS && relay && r.cfg.RelayUsername != "" {
				break
			}
			s, tlsFailed, err := r.dialOne(ctx, t.host, t.addr, useTLS, relay)
			if err == nil {
				return s, nil
			}
			lastErr = fmt.Errorf("%s (%s): %w", t.host, t.addr, err)
			if !tlsFailed {
				break
			}
		}
	}
	return nil, lastErr
}

// dialOne connects to addr and greets. tlsFailed reports that only the
// STARTTLS step failed, so a plain retry makes sense.
func (r *Runner) dialOne(ctx context.Context, host, addr string, useTLS, relay bool) (s *session, tlsFailed bool, err error) {
	d := net.Dialer{Timeout: dialTimeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	if useTLS {
		cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if !relay {
			// Opportunistic TLS to an MX: encryption against passive
			// eavesdroppers, no authentication (like Postfix's "may").
			cfg.InsecureSkipVerify = true
		}
		if r.clientTLS != nil {
			cfg = r.clientTLS.Clone()
		}
		tc, err := startTLS(nc, r.hostname, cfg)
		if err != nil {
			nc.Close()
			return nil, true, fmt.Errorf("STARTTLS: %w", err)
		}
		nc = tc
	}
	c := smtp.NewClient(nc)
	c.CommandTimeout, c.SubmissionTimeout = commandTimeout, dataTimeout
	if err := c.Hello(r.hostname); err != nil {
		c.Close()
		return nil, false, err
	}
	if relay && r.cfg.RelayUsername != "" {
		if err := c.Auth(sasl.NewPlainClient("", r.cfg.RelayUsername, r.cfg.RelayPassword)); err != nil {
			c.Close()
			return nil, false, fmt.Errorf("relay AUTH: %w", err)
		}
	}
	return &session{c: c, host: host}, false, nil
}

// startTLS runs greeting, EHLO and STARTTLS on nc when the peer offers it.
// go-smtp's client can only do STARTTLS after an EHLO as "localhost" (its
// exported StartTLS constructor does not take our name), so this first
// exchange is spoken here, and the returned conn replays a 220 greeting to
// the go-smtp client that continues over TLS (it then sends EHLO again, as
// RFC 3207 requires). Without STARTTLS on offer the conn is returned as a
// replay of the same exchange position: greeting consumed, so it replays a
// greeting too, and the client's EHLO is simply the second one (harmless).
func startTLS(nc net.Conn, hostname string, cfg *tls.Config) (net.Conn, error) {
	nc.SetDeadline(time.Now().Add(commandTimeout))
	defer nc.SetDeadline(time.Time{})
	tp := textproto.NewConn(nc)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, err
	}
	id, err := tp.Cmd("EHLO %s", hostname)
	if err != nil {
		return nil, err
	}
	tp.StartResponse(id)
	_, ext, err := tp.ReadResponse(250)
	tp.EndResponse(id)
	if err != nil {
		return nil, err
	}
	offered := false
	for _, l := range strings.Split(ext, "\n") {
		if strings.EqualFold(strings.TrimSpace(l), "STARTTLS") {
			offered = true
		}
	}
	if !offered {
		return &replayConn{Conn: nc, r: io.MultiReader(strings.NewReader("220 replay\r\n"), tp.R)}, nil
	}
	id, err = tp.Cmd("STARTTLS")
	if err != nil {
		return nil, err
	}
	tp.StartResponse(id)
	_, _, err = tp.ReadResponse(220)
	tp.EndResponse(id)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(nc, cfg)
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	return &replayConn{Conn: tc, r: io.MultiReader(strings.NewReader("220 replay\r\n"), tc)}, nil
}

// replayConn reads from r (a replayed greeting, then the connection).
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// transact runs one MAIL/RCPT/DATA transaction for j. broken reports that
// the connection is unusable for further jobs.
func (r *Runner) transact(s *session, j job) (out []outcome, broken bool) {
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
	w, err := s.c.Data()
	if err != nil {
		return fail(err)
	}
	rd, err := r.st.OpenQueued(j.item)
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
