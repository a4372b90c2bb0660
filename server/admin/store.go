package admin

import (
	"context"
	"io"
	"time"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// Store is everything the admin operations read and change, in four
// roles. *store.Store satisfies it; the CLI and the running server hand it
// the same store.
type Store interface {
	Directory
	SharedMailboxes
	Outbound
	Data
}

// Directory is the server's domains, users, aliases and admin roles.
type Directory interface {
	Domains(ctx context.Context) ([]store.Domain, error)
	GetDomain(ctx context.Context, name string) (*store.Domain, error)
	AddDomain(ctx context.Context, d store.Domain) error
	RemoveDomain(ctx context.Context, name string) error

	Users(ctx context.Context) ([]store.Account, error)
	AddUser(ctx context.Context, addr string, name string, passwordHash string) (*store.Account, error)
	RemoveUser(ctx context.Context, addr string) (*store.TrashItem, error)
	SetPassword(ctx context.Context, addr string, passwordHash string) error
	MailboxByAddress(ctx context.Context, addr string) (*store.Mailbox, error)
	Folders(ctx context.Context, mbid uint64) ([]store.Folder, error)

	Aliases(ctx context.Context) ([]store.Alias, error)
	AddAlias(ctx context.Context, addr string, target string) error
	RemoveAlias(ctx context.Context, addr string) error
	Receivers(ctx context.Context, addr string) ([]string, error)

	RoleGrants(ctx context.Context) ([]store.RoleGrant, error)
	GrantRole(ctx context.Context, addr string, r store.Role, actor string) (bool, error)
	RevokeRole(ctx context.Context, addr string, r store.Role, actor string) ([]store.Role, error)
}

// SharedMailboxes is the shared mailboxes, their members and rights, their
// settings, the team inbox and the audit log.
type SharedMailboxes interface {
	SharedMailboxes(ctx context.Context) ([]store.Mailbox, error)
	CreateShared(ctx context.Context, addr string, name string, owner string, passwordHash string, maxPerDomain int) (*store.Mailbox, error)
	ConvertUserToShared(ctx context.Context, addr string, name string, owner string, passwordHash string, maxPerDomain int, actor string) (*store.Mailbox, error)
	RenameShared(ctx context.Context, oldAddr string, newAddr string, name string, actor string) (*store.Mailbox, error)
	RemoveShared(ctx context.Context, addr string, actor string) (*store.TrashItem, error)
	ReassignWith(ctx context.Context, addr string, user string, actor string, o store.ReassignOptions) (*store.ReassignResult, error)

	ACL(ctx context.Context, mbid uint64) ([]store.ACLEntry, error)
	Grant(ctx context.Context, mbid uint64, member string, rights acl.Rights, maxMembers int, actor string) error
	Revoke(ctx context.Context, mbid uint64, member string, actor string) error

	SetAutoReply(ctx context.Context, mbid uint64, ar *store.AutoReply, actor string) (*store.Mailbox, error)
	SetRemindAfter(ctx context.Context, mbid uint64, d time.Duration, actor string) (*store.Mailbox, error)
	SetSeenMode(ctx context.Context, mbid uint64, perMember bool, actor string) (*store.Mailbox, error)

	TeamInbox(ctx context.Context, mbid uint64) ([]store.TeamMessage, error)
	Assign(ctx context.Context, mbid uint64, id string, member string, actor string) (*store.TeamMessage, error)
	SetDone(ctx context.Context, mbid uint64, id string, done bool, actor string) (*store.TeamMessage, error)
	AuditLog(ctx context.Context, mbid uint64, since time.Time) ([]store.AuditEntry, error)
}

// Outbound is the outbound queue.
type Outbound interface {
	Queue(ctx context.Context) ([]store.QueueItem, error)
	QueueGet(ctx context.Context, id uint64) (*store.QueueItem, error)
	QueueUpdate(ctx context.Context, q *store.QueueItem) error
	QueueRemove(ctx context.Context, id uint64) error
}

// Data is the mailboxes' quotas, junk classifiers, the recycle bin and
// backups.
type Data interface {
	QuotaOf(ctx context.Context, mbid uint64) (store.Quota, error)
	SetQuota(ctx context.Context, mbid uint64, lim store.QuotaLimit, actor string) error

	SpamStatsOf(ctx context.Context, mbid uint64) (store.SpamStats, error)
	SpamReset(ctx context.Context, mbid uint64) error

	Trash(ctx context.Context) ([]store.TrashItem, error)
	RestoreTrash(ctx context.Context, id uint64) (*store.TrashItem, error)
	PurgeTrash(ctx context.Context, id uint64) error

	SnapshotWith(ctx context.Context, w io.Writer, o store.SnapshotOptions) (store.SnapshotStats, error)
	BackupMailboxProgress(ctx context.Context, src string, dst string, actor string, progress func(store.BackupResult)) (*store.BackupResult, error)
}
