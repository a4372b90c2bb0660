// Package autoreply owns the automatic answers mailsrv sends (RFC 3834):
// the auto-acknowledgement of a shared mailbox (`shared set
// --auto-reply-file`), the vacation notice of a personal one (`vacation
// set`), and the reminder digest of a team's waiting mail (`shared set
// --remind-after`, digest.go).
//
// The MX decides at delivery whom to answer (Responder.Delivered, called
// after the delivery committed, never inside its transaction) from the
// envelope sender, the header and the SPF/DKIM verdict it already has.
// Every answer goes out like other mail the server makes (queue bounces):
// DKIM-signed with the mailbox's domain key, delivered directly to local
// recipients and through the outbound queue to remote ones, from the null
// sender, with a copy in the mailbox's Sent folder.
package autoreply

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"runtime/debug"
	"strings"
	"time"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"mailsrv/auth/msgauth"
	"mailsrv/store"
)

// Every is how often one sender hears an automatic reply from one
// mailbox at most (RFC 3834 §2 suggests days; 7 is common).
const Every = 7 * 24 * time.Hour

// Responder sends the automatic replies of the mailboxes a message was
// delivered to.
type Responder struct {
	Store    Store
	Hostname string
	// Wake starts the outbound queue after a reply was queued; nil = none.
	Wake func()
	Log  *slog.Logger

	bg inflight // DeliveredBlob's goroutines (inflight.go)
}

// Incoming is a message that was just delivered.
type Incoming struct {
	MailFrom  string          // envelope sender; "" = the null sender
	Header    []byte          // the message's header block, as received
	Auth      *msgauth.Result // the MX verdict; nil = not verified
	Mailboxes []uint64        // the mailboxes it was delivered to
	Log       *slog.Logger    // the session's logger (connection id)
}

// Delivered sends the automatic replies due for in. Errors are logged:
// an automatic reply is never worth failing or delaying a delivery.
func (r *Responder) Delivered(ctx context.Context, in Incoming) {
	log := in.Log
	if log == nil {
		log = r.Log
	}
	var h *mail.Header
	for _, id := range in.Mailboxes {
		mb, err := r.Store.Mailbox(ctx, id)
		if err != nil || !mb.AutoReply.Active(r.Store.Now()) {
			continue
		}
		if h == nil {
			hh, err := parseHeader(in.Header)
			if err != nil {
				log.Info("no automatic reply: unreadable header", "err", err)
				return
			}
			h = hh
			if why := Refuse(in.MailFrom, h, in.Auth); why != "" {
				log.Info("no automatic reply", "reason", why, "sender", in.MailFrom)
				return
			}
		}
		if err := r.answer(ctx, mb, in.MailFrom, h, log); err != nil {
			log.Warn("automatic reply failed", "mailbox", mb.Address, "to", in.MailFrom, "err", err)
		}
	}
}

func parseHeader(raw []byte) (*mail.Header, error) {
	th, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil && th.Len() == 0 {
		return nil, err
	}
	return &mail.Header{Header: gomessage.Header{Header: th}}, nil
}

// Refuse says why a message must not get an automatic reply (RFC 3834
// §2, and what mailing lists and robots announce), or "" when it may.
func Refuse(mailFrom string, h *mail.Header, auth *msgauth.Result) string {
	if mailFrom == "" {
		return "null return path"
	}
	at := strings.LastIndexByte(mailFrom, '@')
	if at <= 0 {
		return "return path without a domain"
	}
	local := strings.ToLower(mailFrom[:at])
	switch {
	case local == "mailer-daemon", local == "postmaster", local == "listserv", local == "majordomo",
		strings.HasPrefix(local, "noreply"), strings.HasPrefix(local, "no-reply"), strings.HasPrefix(local, "no_reply"),
		strings.HasPrefix(local, "donotreply"), strings.HasPrefix(local, "do-not-reply"),
		strings.HasPrefix(local, "owner-"), strings.HasSuffix(local, "-request"), strings.HasSuffix(local, "-bounces"):
		return "robot sender " + mailFrom
	}
	if v := strings.TrimSpace(h.Get("Auto-Submitted")); v != "" && !strings.EqualFold(firstToken(v), "no") {
		return "Auto-Submitted: " + v
	}
	switch p := strings.ToLower(firstToken(h.Get("Precedence"))); p {
	case "bulk", "list", "junk":
		return "Precedence: " + p
	}
	for f := h.Fields(); f.Next(); {
		if k := strings.ToLower(f.Key()); strings.HasPrefix(k, "list-") {
			return "mailing list (" + f.Key() + ")"
		}
	}
	if auth != nil && !passed(auth) {
		return "neither SPF nor DKIM passed"
	}
	return ""
}

// passed reports whether SPF or any DKIM signature passed: an automatic
// reply to mail whose sender nobody vouches for would be backscatter.
func passed(a *msgauth.Result) bool {
	if a.SPF.Result == "pass" {
		return true
	}
	for _, d := range a.DKIM {
		if d.Result == "pass" {
			return true
		}
	}
	return false
}

func firstToken(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexAny(v, "; \t("); i >= 0 {
		v = v[:i]
	}
	return v
}

// answer sends mb's automatic reply to sender unless mb already answered
// them within Every, or sender is mb itself.
func (r *Responder) answer(ctx context.Context, mb *store.Mailbox, sender string, h *mail.Header, log *slog.Logger) error {
	to, err := store.NormalizeAddress(sender)
	if err != nil {
		return err
	}
	if to == mb.Address {
		return nil
	}
	if ids, err := r.Store.Resolve(ctx, to); err == nil && len(ids) == 1 && ids[0] == mb.ID {
		return nil // an alias of the mailbox itself
	}
	ok, err := r.Store.ClaimAutoReply(ctx, mb.ID, to, Every)
	if err != nil || !ok {
		return err
	}
	msg := r.compose(mb, to, h)
	if err := r.Send(ctx, mb, to, msg, true); err != nil {
		return err
	}
	log.Info("sent automatic reply", "mailbox", mb.Address, "to", to)
	return nil
}

// compose builds the reply to h (RFC 3834 §3).
func (r *Responder) compose(mb *store.Mailbox, to string, h *mail.Header) []byte {
	ar := mb.AutoReply
	subject := ar.Subject
	if subject == "" {
		orig, _ := h.Subject()
		subject = "Auto: " + orig
	}
	var b strings.Builder
	from := mb.Address
	if mb.Name != "" {
		from = mime.QEncoding.Encode("utf-8", mb.Name) + " <" + mb.Address + ">"
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: <%s>\r\n", from, to)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\r\n", r.Store.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s>\r\n", newMessageID(r.Hostname))
	if id, err := h.MessageID(); err == nil && id != "" {
		refs, _ := h.MsgIDList("References")
		if len(refs) == 0 {
			refs, _ = h.MsgIDList("In-Reply-To")
		}
		refs = append(refs, id)
		fmt.Fprintf(&b, "In-Reply-To: <%s>\r\nReferences: <%s>\r\n", id, strings.Join(refs, "> <"))
	}
	b.WriteString("Auto-Submitted: auto-replied\r\n")
	b.WriteString("Precedence: bulk\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	body := strings.ReplaceAll(strings.ReplaceAll(ar.Body, "\r\n", "\n"), "\n", "\r\n")
	if !strings.HasSuffix(body, "\r\n") {
		body += "\r\n"
	}
	b.WriteString(body)
	return []byte(b.String())
}

// Send signs msg with the DKIM keys of mb's domain and delivers it to
// to from the null sender (RFC 3834 §3.3: nobody answers it in turn),
// locally or through the outbound queue, with keepSent a copy in mb's
// Sent.
func (r *Responder) Send(ctx context.Context, mb *store.Mailbox, to string, msg []byte, keepSent bool) error {
	sigs, err := r.sign(ctx, store.DomainOf(mb.Address), msg)
	if err != nil {
		return fmt.Errorf("DKIM signing: %w", err)
	}
	d := store.Delivery{Prefix: []byte(sigs)}
	if keepSent {
		d.Targets = append(d.Targets, store.Target{MailboxID: mb.ID, Folder: "Sent", Flags: []string{store.FlagSeen}})
	}
	ids, err := r.Store.Resolve(ctx, to)
	switch {
	case err == nil:
		for _, id := range ids {
			d.Targets = append(d.Targets, store.Target{MailboxID: id})
		}
	case errors.Is(err, store.ErrUnknownDomain):
		d.Queue = &store.QueueItem{From: "", To: []string{to}}
	default:
		return err
	}
	if _, err := r.Store.DeliverBytes(ctx, d, msg); err != nil {
		return err
	}
	if d.Queue != nil && r.Wake != nil {
		r.Wake()
	}
	return nil
}

// sign returns the DKIM-Signature fields of msg, one per key of domain.
func (r *Responder) sign(ctx context.Context, domain string, msg []byte) (string, error) {
	dom, err := r.Store.GetDomain(ctx, domain)
	if err != nil {
		return "", err
	}
	return msgauth.SignEach(dom.Name, dom.SigningKeys(), func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(msg)), nil
	})
}

func newMessageID(host string) string {
	var b [12]byte
	rand.Read(b[:])
	return "auto." + hex.EncodeToString(b[:]) + "@" + host
}

// ReadHeader returns the header block at the start of r (up to
// msgauth.MaxHeaderBytes).
func ReadHeader(r io.Reader) ([]byte, error) {
	br := bufio.NewReader(io.LimitReader(r, msgauth.MaxHeaderBytes))
	var buf []byte
	for {
		line, err := br.ReadBytes('\n')
		buf = append(buf, line...)
		if err != nil || len(bytes.TrimRight(line, "\r\n")) == 0 {
			return buf, nil
		}
	}
}

// autoReplyTimeout bounds the work of one message's automatic replies.
const autoReplyTimeout = time.Minute

// DeliveredBlob is Delivered for the message stored as blobID, in its own
// goroutine: the sender has its answer without waiting for the replies,
// and a panic there is logged instead of taking the server down. auth is
// the MX verdict, nil for an authenticated submission.
func (r *Responder) DeliveredBlob(ctx context.Context, from, blobID string, auth *msgauth.Result, mailboxes []uint64, log *slog.Logger) {
	if from == "" || len(mailboxes) == 0 {
		return
	}
	if log == nil {
		log = r.Log
	}
	// The reply work outlives the caller's request: it keeps the
	// request's values, not its cancellation, and ends with the server
	// (Close).
	started := r.bg.start(ctx, func(ctx context.Context) {
		defer func() {
			if p := recover(); p != nil {
				log.Error("automatic reply panicked", "panic", p, "stack", string(debug.Stack()))
			}
		}()
		ctx, cancel := context.WithTimeout(ctx, autoReplyTimeout)
		defer cancel()
		f, err := r.Store.OpenBlob(ctx, blobID)
		if err != nil {
			log.Warn("automatic reply: reading the message", "err", err)
			return
		}
		hdr, err := ReadHeader(f)
		f.Close()
		if err != nil {
			return
		}
		r.Delivered(ctx, Incoming{MailFrom: from, Header: hdr, Auth: auth, Mailboxes: mailboxes, Log: log})
	})
	if !started {
		log.Info("no automatic reply: the server is shutting down", "sender", from)
	}
}
