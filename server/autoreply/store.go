package autoreply

import (
	"context"
	"io"
	"time"

	"mailsrv/store"
)

// Store is what the responder reads and writes: the shared mailboxes'
// settings and members, the once-per-sender and digest claims, the team
// inbox and the replies it delivers. *store.Store satisfies it.
type Store interface {
	Now() time.Time
	Subscribe(fn func(store.Event)) (cancel func())

	Mailbox(ctx context.Context, id uint64) (*store.Mailbox, error)
	SharedMailboxes(ctx context.Context) ([]store.Mailbox, error)
	ACL(ctx context.Context, mbid uint64) ([]store.ACLEntry, error)
	Prefs(ctx context.Context, user string) (store.MemberPrefs, error)
	Resolve(ctx context.Context, addr string) ([]uint64, error)
	GetDomain(ctx context.Context, name string) (*store.Domain, error)

	FolderByID(ctx context.Context, fid uint64) (*store.Folder, error)
	Messages(ctx context.Context, fid uint64, uids []uint32) ([]store.Message, error)
	OpenBlob(ctx context.Context, id string) (io.ReadCloser, error)
	TeamInbox(ctx context.Context, mbid uint64) ([]store.TeamMessage, error)

	ClaimAutoReply(ctx context.Context, mbid uint64, sender string, every time.Duration) (bool, error)
	ClaimDigest(ctx context.Context, mbid uint64, now time.Time, every time.Duration) (bool, error)
	PruneAutoReplies(ctx context.Context, cutoff time.Time) (int, error)
	DeliverBytes(ctx context.Context, d store.Delivery, msg []byte) ([]store.Delivered, error)
}
