package submit

import (
	"context"
	"io"
	"time"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// Store is what the submission pipeline reads and writes: the sender's
// mailboxes, domains and aliases and their send rights, the recipients'
// room, the submitted body and the delivery (local copies, Sent copy and
// queue items in one commit). *store.Store satisfies it.
type Store interface {
	Now() time.Time

	Mailbox(ctx context.Context, id uint64) (*store.Mailbox, error)
	MailboxByAddress(ctx context.Context, addr string) (*store.Mailbox, error)
	GetDomain(ctx context.Context, name string) (*store.Domain, error)
	Aliases(ctx context.Context) ([]store.Alias, error)
	Resolve(ctx context.Context, addr string) ([]uint64, error)
	RightsOf(ctx context.Context, mbid uint64, user string) (acl.Rights, error)
	WithRoom(ctx context.Context, ids []uint64) ([]uint64, error)

	OpenBlob(ctx context.Context, id string) (io.ReadCloser, error)
	Deliver(ctx context.Context, d store.Delivery) ([]store.Delivered, error)
}
