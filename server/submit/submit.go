// Package submit is mailsrv's one sending pipeline, shared by SMTP
// submission (server/smtpd) and the webmail's compose (server/web/mail):
// who may send as which address (send-as, send-on-behalf, with rights
// read from the store at every message), the From:/Sender: header check,
// the header fields added (Message-ID, Date, Sender, Received), DKIM
// signing, and the one store.Deliver that stores local copies, queues
// remote recipients and keeps the Sent copy (the shared mailbox's Sent,
// audited, for a shared address; the sender's own with save_sent).
//
// Callers own the transport: they write the message into a store blob,
// hand over the header block for CheckHeader, and call Deliver with the
// envelope. Refusals are *Error values carrying the SMTP reply (code,
// enhanced code, one sentence), which smtpd sends as is and the webmail
// turns into an HTTP status.
package submit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"mailsrv/auth/acl"
	"mailsrv/auth/msgauth"
	"mailsrv/store"
)

// Error is a refusal: the SMTP reply code (5xx refused, 4xx try later),
// its enhanced status code and the sentence for the user.
type Error struct {
	Code     int
	Enhanced [3]int
	Message  string
}

func (e *Error) Error() string { return e.Message }

// Temporary reports a 4xx answer (nothing was decided; try again).
func (e *Error) Temporary() bool { return e.Code < 500 }

func refuse(format string, a ...any) *Error {
	return &Error{Code: 550, Enhanced: [3]int{5, 7, 1}, Message: fmt.Sprintf(format, a...)}
}

var (
	errAuthzTemp = &Error{Code: 451, Enhanced: [3]int{4, 3, 0}, Message: "Temporary failure checking sender rights, try again later"}
	errNeedFrom  = &Error{Code: 550, Enhanced: [3]int{5, 6, 0}, Message: "The message needs a valid From: header"}
	errBadSender = &Error{Code: 550, Enhanced: [3]int{5, 6, 0}, Message: "Malformed Sender: header"}
	// ErrNoSuchRecipient is AddRecipient's answer for a local address
	// that does not exist.
	ErrNoSuchRecipient = errors.New("no such local recipient")
	// ErrMailboxFull: every mailbox of the recipient is over its quota.
	ErrMailboxFull = errors.New("recipient's mailbox is full")
)

// Options configures a Submitter.
type Options struct {
	Store Store
	// Hostname names this server in Received: and Message-ID.
	Hostname string
	// SaveSent is [submission] save_sent: keep the sender's own Sent copy.
	SaveSent bool
	// Wake tells the queue runner a message was queued; nil = no-op.
	Wake func()
	Log  *slog.Logger
	// AutoReply hears of every delivered message, after the commit, for
	// the local recipients' automatic replies (server/autoreply); nil = none.
	AutoReply AutoResponder
}

// AutoResponder starts the automatic replies due for a delivered message
// and returns at once.
type AutoResponder interface {
	DeliveredBlob(ctx context.Context, from, blobID string, auth *msgauth.Result, mailboxes []uint64, log *slog.Logger)
}

// Submitter runs the pipeline. It holds no per-message state.
type Submitter struct {
	opts Options
	st   Store
	log  *slog.Logger
}

// New returns a Submitter.
func New(opts Options) *Submitter {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Wake == nil {
		opts.Wake = func() {}
	}
	return &Submitter{opts: opts, st: opts.Store, log: log}
}

// Identity is who sends: the user whose password was checked and that
// user's own mailbox.
type Identity struct {
	User      string
	MailboxID uint64
}

// Envelope is the SMTP envelope of one message.
type Envelope struct {
	From   string   // normalised, authorised with Authorize
	Local  []uint64 // deduplicated local target mailboxes
	Remote []string // remote recipients, queued
	Rcpts  []string // every recipient, deduplicated, for logs and the audit
	// KeepSent stores the sender's own Sent copy even without [submission]
	// save_sent: the webmail has no client that would APPEND one.
	KeepSent bool
}

// AddRecipient resolves a normalised address into env: local mailboxes
// are delivered directly, other domains queued. A repeated address is
// ignored. An unknown local address gives ErrNoSuchRecipient; other
// errors are the store's (temporary).
func (s *Submitter) AddRecipient(ctx context.Context, env *Envelope, addr string) error {
	for _, r := range env.Rcpts {
		if r == addr { // the same recipient twice (in any case): one delivery
			return nil
		}
	}
	ids, err := s.st.Resolve(ctx, addr)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrUnknownDomain):
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %s", ErrNoSuchRecipient, addr)
	default:
		return err
	}
	if ids != nil {
		if ids, err = s.st.WithRoom(ctx, ids); err != nil {
			return err
		}
		if len(ids) == 0 {
			return fmt.Errorf("%w: %s", ErrMailboxFull, addr) // 452 4.2.2 at RCPT (store/quota.go)
		}
	}
	env.Rcpts = append(env.Rcpts, addr)
	if ids == nil {
		env.Remote = append(env.Remote, addr)
		return nil
	}
	for _, id := range ids {
		if !containsID(env.Local, id) {
			env.Local = append(env.Local, id)
		}
	}
	return nil
}

// Trace describes the client for the Received: field.
type Trace struct {
	Helo   string
	IP     net.IP
	TLS    bool
	ConnID string
}

// Deliver commits a message whose bytes are in blob (written and synced,
// its header checked by CheckHeader into hc): it adds the missing
// Message-ID:, Date: and Sender:, signs with the From domain's DKIM keys,
// and stores everything in one store.Deliver — local recipients, the Sent
// copy, the audit entry of a shared send, the queue item — after checking
// once more, inside the transaction, that the send rights still hold. It
// returns the Message-ID. On error the caller aborts the blob.
func (s *Submitter) Deliver(ctx context.Context, id Identity, env Envelope, hc *HeaderCheck, blob *store.BlobWriter, tr Trace) (string, error) {
	var extra strings.Builder
	msgID := hc.messageID
	if !hc.hasMessageID {
		msgID = newMessageID(s.opts.Hostname)
		extra.WriteString("Message-ID: <" + msgID + ">\r\n")
	}
	now := s.st.Now()
	if !hc.hasDate {
		extra.WriteString("Date: " + now.Format(time.RFC1123Z) + "\r\n")
	}
	if hc.addSender != "" {
		extra.WriteString("Sender: <" + hc.addSender + ">\r\n")
	}
	sigs, err := s.sign(ctx, hc.signDomain, extra.String(), blob.ID())
	if err != nil {
		return "", fmt.Errorf("DKIM signing for %s: %w", hc.signDomain, err)
	}
	forRcpt := ""
	if len(env.Rcpts) == 1 {
		forRcpt = env.Rcpts[0]
	}
	received := msgauth.HeaderField("Received", msgauth.ReceivedHeader(msgauth.ReceivedInfo{
		Helo: tr.Helo, IP: tr.IP, Hostname: s.opts.Hostname,
		TLS: tr.TLS, Authenticated: true, ID: tr.ConnID, For: forRcpt, Date: now,
	}))

	d := store.Delivery{
		Blob:         blob,
		Prefix:       []byte(received + sigs + extra.String()),
		InternalDate: now,
	}
	for _, mbid := range env.Local {
		d.Targets = append(d.Targets, store.Target{MailboxID: mbid})
	}
	for _, g := range hc.shared {
		// SPEC §6: mail sent as a shared address is also kept in its Sent
		// folder so every member sees it, and the send is audited.
		d.Targets = append(d.Targets, store.Target{MailboxID: g.mailbox.ID, Folder: "Sent", Flags: []string{store.FlagSeen}})
		d.Audit = append(d.Audit, store.MailboxAudit{MailboxID: g.mailbox.ID, Entry: store.AuditEntry{
			Actor: id.User, Action: g.action(), Folder: "Sent", MessageID: msgID,
			Detail: "to " + strings.Join(env.Rcpts, ", "),
		}})
	}
	if (s.opts.SaveSent || env.KeepSent) && len(hc.shared) == 0 {
		// [submission] save_sent: the sender's own Sent copy. It carries
		// the trace prefix, so the client's own APPEND of it is recognised
		// (store.RecentSubmittedCopy) and not stored twice.
		d.Targets = append(d.Targets, store.Target{MailboxID: id.MailboxID, Folder: "Sent", Flags: []string{store.FlagSeen}})
	}
	if len(env.Remote) > 0 {
		d.Queue = &store.QueueItem{From: env.From, To: env.Remote}
	}
	for _, g := range hc.shared {
		op := acl.OpSendOnBehalf
		if g.kind == sendAs {
			op = acl.OpSendAs
		}
		d.Requires = append(d.Requires, store.Requirement{MailboxID: g.mailbox.ID, User: id.User, Op: op})
	}
	if _, err := s.st.Deliver(ctx, d); err != nil {
		if missing, ok := errors.AsType[*store.MissingRightError](err); ok {
			return "", refuse("You may not send as %s: the right was revoked", grantAddr(hc.shared, missing.MailboxID))
		}
		return "", err
	}
	if d.Queue != nil {
		s.opts.Wake()
	}
	if s.opts.AutoReply != nil && len(env.Local) > 0 {
		// A colleague's mail gets the vacation notice too.
		s.opts.AutoReply.DeliveredBlob(ctx, env.From, blob.ID(), nil, env.Local, s.log)
	}
	return msgID, nil
}

// sign returns the DKIM-Signature fields for the message extra + blob,
// one per key of domain (ed25519 and RSA after `domain add`). A domain
// without keys gives no signature.
func (s *Submitter) sign(ctx context.Context, domain, extra, blobID string) (string, error) {
	dom, err := s.st.GetDomain(ctx, domain)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return msgauth.SignEach(dom.Name, dom.SigningKeys(), func() (io.ReadCloser, error) {
		f, err := s.st.OpenBlob(ctx, blobID)
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(strings.NewReader(extra), f), f}, nil
	})
}

func newMessageID(host string) string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "@" + host
}

func containsID(ids []uint64, id uint64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// grantAddr is the address the sender used for shared mailbox mbid.
func grantAddr(shared []*grant, mbid uint64) string {
	for _, g := range shared {
		if g.mailbox.ID == mbid {
			return g.addr
		}
	}
	return "the shared address"
}
