package smtpd

// MX intake (port 25): accepts mail for local domains only, never offers
// AUTH, verifies SPF/DKIM/DMARC while streaming the message to its blob
// file, and answers 250 only after the blob is fsynced and the delivery
// committed for every recipient.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailsrv/auth/msgauth"
	"mailsrv/server/config"
	"mailsrv/server/metrics"
	"mailsrv/server/spam"
	"mailsrv/store"
)

// MXListener is the metrics label and log name of the MX listener.
const MXListener = "smtp"

// verifyTimeout bounds SPF/DKIM/DMARC DNS work for one message.
const verifyTimeout = 60 * time.Second

// MXOptions configures NewMX.
type MXOptions struct {
	Store    Store
	Hostname string
	Limits   config.Limits
	// TLS enables STARTTLS with the configured certificate; nil = none.
	TLS *tls.Config
	// Verifier checks SPF/DKIM/DMARC; nil means no checks (the
	// Authentication-Results field is then omitted). The server wiring
	// passes msgauth.NewVerifier(msgauth.NewResolver(cfg.DNS.Resolver), host).
	Verifier *msgauth.Verifier
	// Spam decides refusal, INBOX or Junk and the X-Spam fields (DMARC
	// policy, DNSBL, rspamd, junk filter); nil = policy results only.
	Spam *spam.Filter
	// AutoReply sends automatic replies (vacation, auto-acknowledgement)
	// for delivered messages; nil = none.
	AutoReply AutoResponder
	Metrics   *metrics.Metrics
	Log       *slog.Logger
	// ReadTimeout and WriteTimeout default to 5 minutes; ShutdownGrace to
	// 5 seconds; UnknownRcptDelay to DefaultUnknownRcptDelay. Tests
	// shorten them.
	ReadTimeout, WriteTimeout, ShutdownGrace, UnknownRcptDelay time.Duration
}

// NewMX returns the MX intake server. Call Serve with a listener.
func NewMX(opts MXOptions) *Server {
	if opts.Spam == nil {
		opts.Spam = spam.New(spam.Options{Store: opts.Store, Metrics: opts.Metrics, Log: opts.Log})
	}
	be := &mxBackend{opts: opts}
	s := newServer(serverConfig{
		Name:             MXListener,
		Hostname:         opts.Hostname,
		Limits:           opts.Limits,
		TLS:              opts.TLS,
		Metrics:          opts.Metrics,
		Log:              opts.Log,
		Backend:          be,
		ReadTimeout:      opts.ReadTimeout,
		WriteTimeout:     opts.WriteTimeout,
		ShutdownGrace:    opts.ShutdownGrace,
		UnknownRcptDelay: opts.UnknownRcptDelay,
	})
	be.srv = s
	// AUTH is never offered on MX (mxSession.AuthMechanisms is empty);
	// without this go-smtp would answer AUTH with "523 TLS is required",
	// inviting a client to STARTTLS and try again. With it go-smtp asks
	// the session (mxSession.Auth), which answers 502 (RFC 5321 §4.2.4:
	// a command not implemented here).
	s.smtp.AllowInsecureAuth = true
	// go-smtp advertises SIZE and answers 552 5.3.4 (at MAIL SIZE=, in
	// DATA once the limit is passed, and for BDAT chunks) by itself. It
	// stops reading into our writer at the limit, so an oversize message
	// is never buffered: we only see the limit error.
	s.smtp.MaxMessageBytes = opts.Limits.MaxMessageBytes
	// Recipients are capped in Rcpt (not by go-smtp) so the rejection is
	// counted in metrics.
	return s
}

type mxBackend struct {
	opts MXOptions
	srv  *Server
}

func (b *mxBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &mxSession{ctx: b.srv.base, b: b, conn: c, ci: b.srv.connInfoOf(c)}, nil
}

// mxSession is one SMTP session. go-smtp runs Data in a separate goroutine
// for BDAT, and RSET or a dropped connection can call Reset/Logout while it
// runs, so the transaction state is guarded by mu and Data works on a copy.
type mxSession struct {
	ctx  context.Context // the server's base context (store calls)
	b    *mxBackend
	conn *smtp.Conn
	ci   *connInfo

	mu       sync.Mutex
	from     string
	hasFrom  bool
	rcpts    []string // normalised recipient addresses, in order
	mailbox  []uint64 // deduplicated target mailboxes
	rcptSeen map[string]bool
	unknown  int     // unknown recipients this session (tarpit)
	dnsbl    *string // zone listing the client ("" = none), checked once
}

// errAuthOnMX answers AUTH on the MX port: not a mechanism this server
// lacks (go-smtp's default 504 5.7.4) but a command MX does not implement.
var errAuthOnMX = smtpError(502, smtp.EnhancedCode{5, 5, 1}, "AUTH is not available on this port: use submission (port 587 or 465)")

// AuthMechanisms is empty: go-smtp then offers no AUTH in EHLO.
func (s *mxSession) AuthMechanisms() []string { return nil }

// Auth refuses every mechanism with 502 (go-smtp writes an *SMTPError
// returned here as it is).
func (s *mxSession) Auth(string) (sasl.Server, error) { return nil, errAuthOnMX }

func (s *mxSession) reject(reason string, err *smtp.SMTPError) *smtp.SMTPError {
	s.b.opts.Metrics.SMTPRejected(MXListener, reason)
	return err
}

func (s *mxSession) Mail(from string, _ *smtp.MailOptions) error {
	if err := checkSender(from); err != nil {
		return s.reject("bad_address", err.(*smtp.SMTPError))
	}
	if s.dnsbl == nil {
		zone := s.b.opts.Spam.CheckClient(s.ctx, s.ci.RemoteIP, s.ci.Log)
		s.dnsbl = &zone
	}
	if *s.dnsbl != "" {
		return s.reject("dnsbl", smtpError(554, smtp.EnhancedCode{5, 7, 1},
			fmt.Sprintf("Client address %s is listed by %s", s.ci.RemoteIP, *s.dnsbl)))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hasFrom {
		return errNestedMail
	}
	s.from, s.hasFrom = from, true
	s.rcpts, s.mailbox, s.rcptSeen = nil, nil, nil
	setBusy(s.conn, true)
	return nil
}

func (s *mxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	addr, err := store.NormalizeAddress(to)
	if err != nil {
		return s.reject("bad_address", smtpError(501, smtp.EnhancedCode{5, 1, 3}, "Bad recipient address syntax"))
	}
	s.mu.Lock()
	n, dup := len(s.rcpts), s.rcptSeen[addr]
	s.mu.Unlock()
	if dup {
		return nil // RCPT TO twice: one copy, and no second count
	}
	if max := s.b.opts.Limits.MaxRecipients; max > 0 && n >= max {
		return s.reject("too_many_recipients", smtpError(452, smtp.EnhancedCode{4, 5, 3}, fmt.Sprintf("Too many recipients (at most %d per message)", max)))
	}
	ids, err := s.b.opts.Store.Resolve(s.ctx, addr)
	switch {
	case errors.Is(err, store.ErrUnknownDomain):
		s.ci.Log.Info("relay attempt refused", "rcpt", addr, "from", s.from)
		if err := s.tarpit(); err != nil {
			return s.reject("tarpit", err.(*smtp.SMTPError))
		}
		return s.reject("relay", smtpError(554, smtp.EnhancedCode{5, 7, 1}, "Relay not permitted"))
	case errors.Is(err, store.ErrNotFound):
		s.ci.Log.Info("unknown recipient", "rcpt", addr)
		if err := s.tarpit(); err != nil {
			return s.reject("tarpit", err.(*smtp.SMTPError))
		}
		return s.reject("unknown_user", smtpError(550, smtp.EnhancedCode{5, 1, 1}, "No such user here"))
	case err != nil:
		s.ci.Log.Error("resolve recipient", "rcpt", addr, "err", err)
		return s.reject("store_error", smtpError(451, smtp.EnhancedCode{4, 3, 0}, "Temporary failure looking up the recipient, try again later"))
	}
	ids, qerr := withinQuota(s.ctx, s.b.opts.Store, addr, ids) // quota.go
	if qerr != nil {
		s.ci.Log.Info("recipient over quota", "rcpt", addr)
		return s.reject("over_quota", qerr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rcptSeen == nil {
		s.rcptSeen = map[string]bool{}
	}
	s.rcptSeen[addr] = true
	s.rcpts = append(s.rcpts, addr)
	for _, id := range ids {
		if !containsID(s.mailbox, id) {
			s.mailbox = append(s.mailbox, id)
		}
	}
	return nil
}

// tarpit counts an unknown recipient and applies the tarpit (answers.go).
func (s *mxSession) tarpit() error {
	s.mu.Lock()
	s.unknown++
	n := s.unknown
	s.mu.Unlock()
	return s.b.srv.unknownRcpt(s.conn, n)
}

func containsID(ids []uint64, id uint64) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

func (s *mxSession) Reset() {
	s.mu.Lock()
	s.from, s.hasFrom, s.rcpts, s.mailbox, s.rcptSeen = "", false, nil, nil, nil
	s.mu.Unlock()
	setBusy(s.conn, false)
}

func (s *mxSession) Logout() error {
	setBusy(s.conn, false)
	return nil
}

// Data streams the message once into its blob file and into the verifier,
// then fsyncs and commits, and only then returns (go-smtp answers 250).
func (s *mxSession) Data(r io.Reader) error {
	s.mu.Lock()
	from, rcpts, mailboxes := s.from, append([]string(nil), s.rcpts...), append([]uint64(nil), s.mailbox...)
	s.mu.Unlock()
	if len(rcpts) == 0 {
		return smtpError(503, smtp.EnhancedCode{5, 5, 1}, "No valid recipients")
	}
	o := &s.b.opts
	start := time.Now()
	log := s.ci.Log

	src := newDataReader(s.conn, r, s.b.srv.readTO)
	blob, err := o.Store.NewBlob(s.ctx, 0)
	if err != nil {
		log.Error("create blob", "err", err)
		return s.reject("store_error", storeError(err))
	}

	_, isTLS := s.conn.TLSConnectionState()
	in := msgauth.Input{RemoteIP: s.ci.RemoteIP, Helo: s.conn.Hostname(), MailFrom: from}
	var res msgauth.Result
	var copyErr, verr error
	// bw remembers errors of our own file so they are not mistaken for
	// client errors (and answered 451 4.3.0, not 4.4.2).
	bw := &errWriter{w: blob}
	if o.Verifier != nil {
		ctx, cancel := context.WithTimeout(s.ctx, verifyTimeout)
		_, copyErr, verr = teeStream(bw, src, func(msg io.Reader) error {
			var err error
			res, err = o.Verifier.Verify(ctx, in, msg)
			return err
		})
		cancel()
	} else {
		_, copyErr = io.Copy(bw, src)
	}
	if copyErr != nil {
		blob.Abort()
		var se *smtp.SMTPError
		switch {
		case errors.As(copyErr, &se):
			if se == smtp.ErrDataTooLarge {
				log.Info("message too large", "limit", o.Limits.MaxMessageBytes)
				return s.reject("oversize", se)
			}
			return se
		case errors.Is(copyErr, smtp.ErrTooLongLine):
			return s.reject("line_too_long", smtpError(500, smtp.EnhancedCode{5, 5, 2}, "Line too long"))
		case errors.Is(copyErr, smtp.ErrDataReset):
			return copyErr
		}
		if bw.err != nil {
			log.Error("write blob", "err", bw.err)
			return s.reject("store_error", storeError(bw.err))
		}
		log.Info("message transfer failed", "err", copyErr)
		return smtpError(451, smtp.EnhancedCode{4, 4, 2}, "Message transfer failed")
	}
	if verr != nil {
		blob.Abort()
		if errors.Is(verr, msgauth.ErrHeaderTooLarge) {
			return s.reject("header_too_large", smtpError(552, smtp.EnhancedCode{5, 6, 0}, "Message header too large"))
		}
		log.Error("verify message", "err", verr)
		return s.reject("verify_error", smtpError(451, smtp.EnhancedCode{4, 3, 0}, "Temporary failure checking the message, try again later"))
	}

	var auth *msgauth.Result
	if o.Verifier != nil {
		auth = &res
	}
	dec := o.Spam.Check(s.ctx, spam.Input{
		Auth: auth, RemoteIP: s.ci.RemoteIP, Helo: s.conn.Hostname(), MailFrom: from,
		Rcpts: rcpts, Mailboxes: mailboxes, QueueID: blob.ID(), Log: log,
		Open: func() (io.ReadCloser, error) { return o.Store.OpenBlob(s.ctx, blob.ID()) },
	})
	if dec.Verdict != spam.Deliver {
		blob.Abort()
		log.Info("refused by the spam filter", "reason", dec.Reason, "code", dec.Code, "from_domain", res.DMARC.FromDomain, "spf", res.SPF.Result, "dmarc", res.DMARC.Result)
		e := dec.Enhanced
		return s.reject(dec.Reason, smtpError(dec.Code, smtp.EnhancedCode{e[0], e[1], e[2]}, dec.Text))
	}

	if err := blob.Sync(); err != nil {
		blob.Abort()
		log.Error("fsync blob", "err", err)
		return s.reject("store_error", storeError(err))
	}
	now := o.Store.Now()
	ri := msgauth.ReceivedInfo{
		Helo: s.conn.Hostname(), IP: s.ci.RemoteIP, Hostname: o.Hostname,
		TLS: isTLS, ID: blob.ID(), Date: now,
	}
	if len(rcpts) == 1 {
		ri.For = rcpts[0]
	}
	var prefix strings.Builder
	prefix.WriteString(msgauth.HeaderField("Received", msgauth.ReceivedHeader(ri)))
	if o.Verifier != nil {
		prefix.WriteString(msgauth.HeaderField("Authentication-Results", res.AuthResultsHeader(o.Hostname)))
	}
	targets := make([]store.Target, len(mailboxes))
	var junked int
	var inboxed []uint64 // mailboxes that may answer automatically (not Junk)
	for i, id := range mailboxes {
		p := dec.Placements[id]
		targets[i] = store.Target{MailboxID: id, Folder: p.Folder(), Prefix: p.Header}
		if p.Junk {
			junked++
		} else {
			inboxed = append(inboxed, id)
		}
	}
	if _, err := o.Store.Deliver(s.ctx, store.Delivery{
		Blob: blob, Prefix: []byte(prefix.String()), InternalDate: now, Targets: targets,
	}); err != nil {
		blob.Abort()
		log.Error("deliver", "err", err, "rcpts", len(rcpts))
		return s.reject("store_error", storeError(err))
	}
	o.Metrics.SMTPAccepted(MXListener)
	s.autoReply(from, blob.ID(), auth, inboxed, log)
	log.Info("delivered", "id", blob.ID(), "from", from, "rcpts", rcpts, "size", blob.Size(),
		"junked", junked, "spam", dec.Placements[mailboxes[0]].Status, "spf", res.SPF.Result, "dmarc", res.DMARC.Result,
		"took", time.Since(start).Round(time.Microsecond))
	return nil
}

// errStore is the answer when the message could not be stored durably.
var errStore = smtpError(451, smtp.EnhancedCode{4, 3, 0}, "Temporary failure storing the message, try again later")

// errDiskFull is the answer when storage is full (RFC 3463 4.3.1).
var errDiskFull = smtpError(452, smtp.EnhancedCode{4, 3, 1}, "Insufficient system storage, try again later")

// storeError answers a failure to store a message: 452 4.3.1 when the
// disk (or the quota of mailsrv's user on it) is full, so the sender's
// logs and the admin's show what is wrong, 451 4.3.0 otherwise. Both are
// temporary: the sender retries, and nothing of the message was kept.
func storeError(err error) *smtp.SMTPError {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return errDiskFull
	}
	return errStore
}

// errWriter records the first write error of w.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}
