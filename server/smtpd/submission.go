package smtpd

// Submission (ports 587 with STARTTLS, 465 with implicit TLS): AUTH PLAIN
// and LOGIN only over TLS, sender authorisation by the rights model of
// SPEC §5, DKIM signing, local delivery and queuing of remote recipients in
// one store transaction. The authorisation rules live in
// submission_authz.go, message handling in submission_data.go.

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailsrv/auth"
	"mailsrv/auth/login"
	"mailsrv/server/config"
	"mailsrv/server/metrics"
	"mailsrv/server/submit"
	"mailsrv/store"
)

// Listener names of the two submission roles (metrics label, log attribute).
const (
	SubmissionListener  = "submission"
	SubmissionsListener = "submissions"
)

// SubmissionOptions configure NewSubmission.
type SubmissionOptions struct {
	Store    Store
	Hostname string
	Limits   config.Limits
	// TLS is required: STARTTLS on 587, or the implicit TLS of 465 with
	// ImplicitTLS. AUTH is refused before TLS unless AllowInsecureAuth.
	TLS         *tls.Config
	ImplicitTLS bool
	// Login is the login decision shared with IMAP and the web login
	// (throttle included). nil builds a private one over Store.
	Login   *login.Authenticator
	Metrics *metrics.Metrics
	Log     *slog.Logger
	// AllowInsecureAuth permits AUTH without TLS (tests on loopback only).
	AllowInsecureAuth bool
	// Wake is called after a message was queued for remote delivery.
	Wake func()
	// SaveSent stores a copy of each personal submission in the sender's
	// Sent folder ([submission] save_sent).
	SaveSent bool
	// Submit is the sending pipeline (shared with the webmail); nil makes
	// one from Store, Hostname, SaveSent, Wake, AutoReply and Log.
	Submit *submit.Submitter
	// AutoReply answers local recipients on vacation or with an
	// auto-acknowledgement (server/autoreply), when Submit is nil; nil = none.
	AutoReply submit.AutoResponder
	// Zero values mean the package defaults.
	ReadTimeout, WriteTimeout, ShutdownGrace, HandshakeTimeout, UnknownRcptDelay time.Duration
}

// NewSubmission returns the submission server; serve it with Serve.
func NewSubmission(opts SubmissionOptions) *Server {
	name := SubmissionListener
	if opts.ImplicitTLS {
		name = SubmissionsListener
	}
	if opts.Login == nil {
		opts.Login = login.New(opts.Store, nil, auth.NewThrottle(opts.Limits.AuthFailuresPerMinute, nil, nil))
	}
	if opts.Wake == nil {
		opts.Wake = func() {}
	}
	if opts.Submit == nil {
		opts.Submit = submit.New(submit.Options{Store: opts.Store, Hostname: opts.Hostname, SaveSent: opts.SaveSent, Wake: opts.Wake, Log: opts.Log, AutoReply: opts.AutoReply})
	}
	be := &subBackend{opts: opts, name: name, login: opts.Login, sub: opts.Submit}
	s := newServer(serverConfig{
		Name:          name,
		Hostname:      opts.Hostname,
		Limits:        opts.Limits,
		TLS:           opts.TLS,
		ImplicitTLS:   opts.ImplicitTLS,
		Metrics:       opts.Metrics,
		Log:           opts.Log,
		Backend:       be,
		ReadTimeout:   opts.ReadTimeout,
		WriteTimeout:  opts.WriteTimeout,
		ShutdownGrace: opts.ShutdownGrace,
		// Implicit TLS (465) only: STARTTLS handshakes run under ReadTimeout.
		HandshakeTimeout: opts.HandshakeTimeout,
		UnknownRcptDelay: opts.UnknownRcptDelay,
	})
	be.srv = s
	s.smtp.MaxMessageBytes = opts.Limits.MaxMessageBytes
	// go-smtp advertises AUTH only when TLS is active (or this is set), and
	// answers "523 5.7.10 TLS is required" to an AUTH before STARTTLS.
	s.smtp.AllowInsecureAuth = opts.AllowInsecureAuth
	return s
}

type subBackend struct {
	opts  SubmissionOptions
	name  string
	srv   *Server
	login *login.Authenticator
	sub   *submit.Submitter
}

func (b *subBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &subSession{ctx: b.srv.base, b: b, st: b.opts.Store, conn: c, ci: b.srv.connInfoOf(c)}, nil
}

// identity is who an authenticated session is.
type identity struct {
	// User is the normalised address whose password was checked: a
	// personal account, or a shared mailbox logging in as itself.
	User string
	// MailboxID is User's own mailbox.
	MailboxID uint64
	// ActAs is the shared mailbox a delegate login asked for ("" = none).
	ActAs string
}

// subSession is one submission session. go-smtp may run Reset/Logout
// concurrently with Data, so the transaction state is guarded by mu.
type subSession struct {
	ctx  context.Context // the server's base context (store calls)
	b    *subBackend
	st   Store
	conn *smtp.Conn
	ci   *connInfo

	mu        sync.Mutex
	id        *identity
	authFails int
	unknown   int             // unknown local recipients this session (tarpit)
	env       submit.Envelope // this transaction's sender and recipients
}

var (
	errAuthFailed     = smtpError(535, smtp.EnhancedCode{5, 7, 8}, "Authentication credentials invalid")
	errAuthNotAllowed = smtpError(535, smtp.EnhancedCode{5, 7, 8}, "You may not log in to that mailbox; ask its owner for the read right")
	errAuthClosing    = smtpError(421, smtp.EnhancedCode{4, 7, 0}, "Too many failed logins, closing the connection")
	errAuthTemp       = smtpError(454, smtp.EnhancedCode{4, 7, 0}, "Temporary authentication failure, try again later")
	errNeedAuth       = smtpError(530, smtp.EnhancedCode{5, 7, 0}, "Authentication required")
)

func (s *subSession) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (s *subSession) Auth(mech string) (sasl.Server, error) {
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return saslSyntax{auth.NewPlainServer(func(authzid, username, password string) error {
			return s.authenticate(authzid, username, password)
		})}, nil
	case sasl.Login:
		return saslSyntax{auth.NewLoginServer(func(username, password string) error {
			return s.authenticate("", username, password)
		})}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// authenticate runs the shared login decision (auth/login) and maps its
// outcome to SMTP: bad credentials or a forbidden mailbox 535, a store
// error or throttling 454 (temporary, nothing was decided), and after
// auth.MaxFailuresPerConnection failures 421 and the connection is closed.
// Every failure is logged with the remote address (the conn logger has it).
func (s *subSession) authenticate(authzid, username, password string) error {
	log := s.ci.Log.With("user", username)
	li, err := s.b.login.Login(s.ctx, login.Request{
		Authzid: authzid, Username: username, Password: password, Remote: s.conn.Conn().RemoteAddr(),
	})
	if err != nil {
		s.b.opts.Metrics.AuthFailure(s.b.name)
		log.Warn("authentication failed", "reason", err)
		if errors.Is(err, login.ErrTemporary) {
			return errAuthTemp
		}
		s.mu.Lock()
		s.authFails++
		n := s.authFails
		s.mu.Unlock()
		if n >= auth.MaxFailuresPerConnection {
			if tc := trackedOf(s.conn); tc != nil {
				tc.closeAfterNextWrite()
			}
			return errAuthClosing
		}
		if errors.Is(err, login.ErrNotAllowed) {
			return errAuthNotAllowed
		}
		return errAuthFailed
	}
	id := &identity{User: li.User, MailboxID: li.UserMailboxID}
	if li.Delegate {
		id.ActAs = li.Root.Address
	}
	s.mu.Lock()
	s.id = id
	s.mu.Unlock()
	log.Info("authenticated", "as", id.User, "acting_for", id.ActAs)
	return nil
}

func (s *subSession) identity() *identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// Mail checks that the envelope sender is an address the user may send as
// (rights read from the store now, so a revoke applies to the next message).
func (s *subSession) Mail(from string, _ *smtp.MailOptions) error {
	id := s.identity()
	if id == nil {
		return errNeedAuth
	}
	if err := checkSender(from); err != nil {
		return err
	}
	if from == "" {
		return smtpError(550, smtp.EnhancedCode{5, 7, 1}, "The null sender is not accepted from authenticated users")
	}
	s.mu.Lock()
	nested := s.env.From != ""
	s.mu.Unlock()
	if nested {
		return errNestedMail
	}
	addr, err := store.NormalizeAddress(from)
	if err != nil {
		return smtpError(553, smtp.EnhancedCode{5, 1, 7}, "Malformed sender address")
	}
	if _, err := s.authorize(id, addr); err != nil {
		s.ci.Log.Warn("sender refused", "user", id.User, "from", addr, "err", err)
		s.b.opts.Metrics.SMTPRejected(s.b.name, "sender")
		return err
	}
	s.mu.Lock()
	s.resetLocked()
	s.env.From = addr
	s.mu.Unlock()
	setBusy(s.conn, true)
	return nil
}

// Rcpt resolves a recipient: local addresses are delivered directly,
// others are queued. Unknown local addresses are refused at once so the
// user's client reports the typo.
func (s *subSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.identity() == nil {
		return errNeedAuth
	}
	addr, err := store.NormalizeAddress(to)
	if err != nil {
		return smtpError(553, smtp.EnhancedCode{5, 1, 3}, "Malformed recipient address")
	}
	s.mu.Lock()
	n := len(s.env.Rcpts)
	s.mu.Unlock()
	if max := s.b.opts.Limits.MaxRecipients; max > 0 && n >= max {
		s.b.opts.Metrics.SMTPRejected(s.b.name, "too_many_recipients")
		return smtpError(452, smtp.EnhancedCode{4, 5, 3}, "Too many recipients")
	}
	s.mu.Lock()
	err = s.b.sub.AddRecipient(s.ctx, &s.env, addr)
	s.mu.Unlock()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, submit.ErrMailboxFull): // quota.go
		s.b.opts.Metrics.SMTPRejected(s.b.name, "over_quota")
		s.ci.Log.Info("recipient over quota", "rcpt", addr)
		return smtpError(452, smtp.EnhancedCode{4, 2, 2}, "Mailbox of "+addr+" is full, try again later")
	case errors.Is(err, submit.ErrNoSuchRecipient):
		s.b.opts.Metrics.SMTPRejected(s.b.name, "unknown_recipient")
		s.mu.Lock()
		s.unknown++
		u := s.unknown
		s.mu.Unlock()
		if err := s.b.srv.unknownRcpt(s.conn, u); err != nil {
			return err
		}
		return smtpError(550, smtp.EnhancedCode{5, 1, 1}, "No such local recipient: "+addr)
	default:
		s.ci.Log.Error("resolving recipient", "to", addr, "err", err)
		return smtpError(451, smtp.EnhancedCode{4, 3, 0}, "Temporary failure resolving the recipient")
	}
}

func (s *subSession) resetLocked() {
	s.env = submit.Envelope{}
}

func (s *subSession) Reset() {
	s.mu.Lock()
	s.resetLocked()
	s.mu.Unlock()
	setBusy(s.conn, false)
}

func (s *subSession) Logout() error {
	s.Reset()
	return nil
}
