package smtpd

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"mailsrv/auth/msgauth"
	"mailsrv/server/autoreply"
)

// AutoResponder receives every message the MX delivered, after the
// commit, to send the automatic replies due (server/autoreply).
type AutoResponder interface {
	Delivered(ctx context.Context, in autoreply.Incoming)
}

// autoReplyTimeout bounds the work of one message's automatic replies.
const autoReplyTimeout = time.Minute

// autoReply hands the delivered message to the responder in its own
// goroutine: the sender has its 250 without waiting for the replies, and
// a panic there is logged instead of taking the server down.
func (s *mxSession) autoReply(from, blobID string, auth *msgauth.Result, mailboxes []uint64, log *slog.Logger) {
	o := &s.b.opts
	if o.AutoReply == nil || len(mailboxes) == 0 || from == "" {
		return
	}
	go func() {
		defer func() {
			if r := recover(); r != nil {
				log.Error("automatic reply panicked", "panic", r, "stack", string(debug.Stack()))
			}
		}()
		f, err := o.Store.OpenBlob(blobID)
		if err != nil {
			log.Warn("automatic reply: reading the message", "err", err)
			return
		}
		hdr, err := autoreply.ReadHeader(f)
		f.Close()
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), autoReplyTimeout)
		defer cancel()
		o.AutoReply.Delivered(ctx, autoreply.Incoming{MailFrom: from, Header: hdr, Auth: auth, Mailboxes: mailboxes, Log: log})
	}()
}
