package smtpd

import (
	"context"

	"mailsrv/auth/login"
	"mailsrv/server/spam"
	"mailsrv/server/submit"
	"mailsrv/store"
)

// Store is what the MX and submission servers use: the recipients'
// mailboxes and their room, the body of a message being received and its
// delivery (submit.Store), and what the filter, the submission pipeline
// and the login decision they build when none is given need (spam.Store,
// submit.Store, login.Store). *store.Store satisfies it.
type Store interface {
	submit.Store
	spam.Store
	login.Store

	NewBlob(ctx context.Context, limit int64) (*store.BlobWriter, error)
}
