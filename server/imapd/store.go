package imapd

import (
	"context"
	"io"
	"time"

	"mailsrv/auth/acl"
	"mailsrv/auth/login"
	"mailsrv/store"
)

// Store is everything the IMAP server reads and changes, in four roles,
// plus what the login decision it builds when none is given needs
// (login.Store). *store.Store satisfies it.
type Store interface {
	Folders
	Messages
	Rights
	Events
	login.Store
}

// Folders is the folder tree of a mailbox: listing, create, rename,
// delete, the subscriptions (a mailbox's own and a member's of shared
// folders) and a folder's state counters.
type Folders interface {
	Folders(ctx context.Context, mbid uint64) ([]store.Folder, error)
	GetFolder(ctx context.Context, mbid uint64, name string) (*store.Folder, error)
	FolderByID(ctx context.Context, fid uint64) (*store.Folder, error)
	CreateClientFolder(ctx context.Context, mbid uint64, name string, member string) (*store.Folder, error)
	RenameFolder(ctx context.Context, mbid uint64, oldName string, newName string) error
	DeleteFolder(ctx context.Context, mbid uint64, name string) error

	SubscribedNames(ctx context.Context, mbid uint64) ([]string, error)
	SetSubscribed(ctx context.Context, mbid uint64, name string, on bool) error
	UserSubscriptions(ctx context.Context, user string) (map[uint64]bool, error)
	SetUserSubscribed(ctx context.Context, user string, fid uint64, on bool) error

	FolderKeywords(ctx context.Context, fid uint64) ([]string, error)
	FirstUnseen(ctx context.Context, fid uint64) (uid uint32, ok bool, err error)
	UnseenAs(ctx context.Context, f *store.Folder, viewer string) (uint32, error)
	SeenViewer(ctx context.Context, fid uint64, user string) (string, error)
}

// Messages is a folder's messages: their UIDs, flags (as a viewer sees
// them), records, heads, sort keys, references and bodies, and the
// changes made to them (APPEND, STORE, COPY, MOVE, EXPUNGE).
type Messages interface {
	FolderUIDs(ctx context.Context, fid uint64) ([]uint32, error)
	FolderUIDsAt(ctx context.Context, fid uint64) ([]uint32, uint64, error)
	FolderFlags(ctx context.Context, fid uint64) ([]store.UIDFlags, error)
	FlagsOfAs(ctx context.Context, fid uint64, uids []uint32, viewer string) ([]store.UIDFlags, error)
	SeenOverrides(ctx context.Context, fid uint64, viewer string) (map[uint32]bool, error)
	OverlayMessages(ctx context.Context, fid uint64, msgs []store.Message, viewer string) error

	Messages(ctx context.Context, fid uint64, uids []uint32) ([]store.Message, error)
	MessagesWithWords(ctx context.Context, fid uint64, uids []uint32, words []string) ([]store.Message, error)
	MessageHeads(ctx context.Context, fid uint64, uids []uint32) ([]store.Message, error)
	MessageHeadsWithWords(ctx context.Context, fid uint64, uids []uint32, words []string) ([]store.Message, error)
	SortKeys(ctx context.Context, fid uint64, uids []uint32) (keys []store.SortKey, stale []uint32, err error)
	ReadReferences(ctx context.Context, m *store.Message) ([]string, error)
	FillReferences(ctx context.Context, fid uint64, refs map[uint32][]string) error
	RecentSubmittedCopy(ctx context.Context, fid uint64, messageID string, since time.Time) (uid uint32, ok bool, err error)
	OpenMessage(ctx context.Context, m *store.Message) (io.ReadCloser, error)
	ReadMessage(ctx context.Context, m *store.Message, dst []byte) ([]byte, error)

	NewBlob(ctx context.Context, limit int64) (*store.BlobWriter, error)
	DeliverAll(ctx context.Context, ds []store.Delivery) ([][]store.Delivered, error)
	StoreFlagsIf(ctx context.Context, origin store.Origin, fid uint64, uids []uint32, op store.FlagOp, flags []string, actor string, unchangedSince *uint64) (*store.StoreResult, error)
	Copy(ctx context.Context, src uint64, uids []uint32, dst uint64, actor string) (*store.CopyResult, error)
	Move(ctx context.Context, src uint64, uids []uint32, dst uint64, actor string) (*store.CopyResult, error)
	Expunge(ctx context.Context, fid uint64, uids []uint32, actor string) ([]uint32, error)
}

// Rights is who may do what: the mailboxes a user reaches, their rights
// (read at every command), the ACL commands, admin roles, quotas and the
// audit log of shared mailboxes.
type Rights interface {
	Mailbox(ctx context.Context, id uint64) (*store.Mailbox, error)
	MailboxByAddress(ctx context.Context, addr string) (*store.Mailbox, error)
	SharedFor(ctx context.Context, user string) ([]store.SharedAccess, error)
	RightsOf(ctx context.Context, mbid uint64, user string) (acl.Rights, error)
	RolesOf(ctx context.Context, addr string) ([]store.Role, error)
	ACL(ctx context.Context, mbid uint64) ([]store.ACLEntry, error)
	Grant(ctx context.Context, mbid uint64, member string, rights acl.Rights, maxMembers int, actor string) error
	Revoke(ctx context.Context, mbid uint64, member string, actor string) error
	QuotaOf(ctx context.Context, mbid uint64) (store.Quota, error)
	AuditAction(ctx context.Context, mbid uint64, e store.AuditEntry) error
}

// Events is how open folders follow changes: the store's clock and
// change events, the origin id that keeps a session's own STORE from
// being echoed, the changes since a modseq (QRESYNC) and the \Recent
// claim.
type Events interface {
	Now() time.Time
	Subscribe(fn func(store.Event)) (cancel func())
	NewOrigin() store.Origin
	ChangesSinceAs(ctx context.Context, fid uint64, since uint64, viewer string) (*store.Changes, error)
	ClaimRecent(ctx context.Context, fid uint64, upTo uint32) (prev uint32, err error)
}
