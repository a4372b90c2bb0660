package smtpd

import (
	"context"
	"log/slog"

	"mailsrv/auth/msgauth"
)

// AutoResponder hears of every message the MX delivered, after the
// commit, to send the automatic replies due (server/autoreply). It must
// return at once (the reply work runs in its own goroutine).
type AutoResponder interface {
	DeliveredBlob(ctx context.Context, from, blobID string, auth *msgauth.Result, mailboxes []uint64, log *slog.Logger)
}

// autoReply hands a message the MX delivered to the responder.
func (s *mxSession) autoReply(from, blobID string, auth *msgauth.Result, mailboxes []uint64, log *slog.Logger) {
	if ar := s.b.opts.AutoReply; ar != nil && len(mailboxes) > 0 {
		ar.DeliveredBlob(s.ctx, from, blobID, auth, mailboxes, log)
	}
}
