package mail

import (
	"context"
	"io"
	"time"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// Store is what the webmail reads and changes: the signed-in member's
// account, preferences and shared mailboxes with their rights, folders,
// messages and flags (as that member sees them), the team inbox and audit
// log, the change events its pages follow, and the body of a composed
// message (sent, or saved as a draft). It includes mailsearch.Opener, which the
// webmail builds a searcher over when none is given. *store.Store
// satisfies it.
type Store interface {
	Now() time.Time
	Subscribe(fn func(store.Event)) (cancel func())

	User(ctx context.Context, addr string) (*store.Account, error)
	Prefs(ctx context.Context, user string) (store.MemberPrefs, error)
	SetPrefs(ctx context.Context, user string, p store.MemberPrefs) error
	SharedFor(ctx context.Context, user string) ([]store.SharedAccess, error)
	MailboxByAddress(ctx context.Context, addr string) (*store.Mailbox, error)
	RightsOf(ctx context.Context, mbid uint64, user string) (acl.Rights, error)
	ACL(ctx context.Context, mbid uint64) ([]store.ACLEntry, error)
	TeamInbox(ctx context.Context, mbid uint64) ([]store.TeamMessage, error)
	AuditLog(ctx context.Context, mbid uint64, since time.Time) ([]store.AuditEntry, error)

	Folders(ctx context.Context, mbid uint64) ([]store.Folder, error)
	GetFolder(ctx context.Context, mbid uint64, name string) (*store.Folder, error)
	FolderByID(ctx context.Context, fid uint64) (*store.Folder, error)
	FolderUIDs(ctx context.Context, fid uint64) ([]uint32, error)
	SeenViewer(ctx context.Context, fid uint64, user string) (string, error)
	UnseenAs(ctx context.Context, f *store.Folder, viewer string) (uint32, error)
	Messages(ctx context.Context, fid uint64, uids []uint32) ([]store.Message, error)
	MessagesAs(ctx context.Context, fid uint64, uids []uint32, viewer string) ([]store.Message, error)
	OpenMessage(ctx context.Context, m *store.Message) (io.ReadCloser, error)

	StoreFlags(ctx context.Context, fid uint64, uids []uint32, op store.FlagOp, flags []string, actor string) (map[uint32][]string, error)
	Move(ctx context.Context, src uint64, uids []uint32, dst uint64, actor string) (*store.CopyResult, error)
	Expunge(ctx context.Context, fid uint64, uids []uint32, actor string) ([]uint32, error)
	NewBlob(ctx context.Context, limit int64) (*store.BlobWriter, error)
	Deliver(ctx context.Context, d store.Delivery) ([]store.Delivered, error)
}
