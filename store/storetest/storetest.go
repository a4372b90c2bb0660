// Package storetest is the store conformance suite: the public behaviour of
// a mailsrv store that every backend must show, whatever it keeps its data
// in. It exercises a backend only through its exported methods (delivery,
// folders, flags, expunge, copy/move, rights, aliases, the recycle bin, the
// outbound queue, change events and their order, snapshots), so the same
// suite runs against bbolt today and against a second backend (SPEC §9)
// when one is added: a backend's own test calls Run with a function that
// opens a fresh, empty store of its kind.
//
// The suite asserts what the protocol code above the store relies on: UIDs
// that only grow within a folder, never reused after an expunge; bodies
// that read back byte for byte; unseen counts that follow \Seen; change
// events published after their commit, in commit order; rights that take
// effect at once; and nothing half-done after a refused operation.
package storetest

import (
	"context"
	"io"
	"testing"
	"time"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// Backend is what the suite needs of a store. It is defined here, where it
// is consumed; *store.Store satisfies it.
type Backend interface {
	AddDomain(ctx context.Context, d store.Domain) error
	AddUser(ctx context.Context, addr, name, passwordHash string) (*store.Account, error)
	User(ctx context.Context, addr string) (*store.Account, error)
	RemoveUser(ctx context.Context, addr string) (*store.TrashItem, error)

	AddAlias(ctx context.Context, addr, target string) error
	RemoveAlias(ctx context.Context, addr string) error
	Resolve(ctx context.Context, addr string) ([]uint64, error)

	CreateShared(ctx context.Context, addr, name, owner, passwordHash string, maxPerDomain int) (*store.Mailbox, error)
	MailboxByAddress(ctx context.Context, addr string) (*store.Mailbox, error)
	RemoveShared(ctx context.Context, addr, actor string) (*store.TrashItem, error)
	RestoreTrash(ctx context.Context, id uint64) (*store.TrashItem, error)
	PurgeTrash(ctx context.Context, id uint64) error
	Trash(ctx context.Context) ([]store.TrashItem, error)

	Grant(ctx context.Context, mbid uint64, member string, rights acl.Rights, maxMembers int, actor string) error
	Revoke(ctx context.Context, mbid uint64, member string, actor string) error
	RightsOf(ctx context.Context, mbid uint64, user string) (acl.Rights, error)
	ACL(ctx context.Context, mbid uint64) ([]store.ACLEntry, error)
	SharedFor(ctx context.Context, user string) ([]store.SharedAccess, error)
	AuditLog(ctx context.Context, mbid uint64, since time.Time) ([]store.AuditEntry, error)

	Folders(ctx context.Context, mbid uint64) ([]store.Folder, error)
	GetFolder(ctx context.Context, mbid uint64, name string) (*store.Folder, error)
	CreateFolder(ctx context.Context, mbid uint64, name, specialUse string) (*store.Folder, error)
	RenameFolder(ctx context.Context, mbid uint64, oldName, newName string) error
	DeleteFolder(ctx context.Context, mbid uint64, name string) error

	NewBlob(ctx context.Context, limit int64) (*store.BlobWriter, error)
	Deliver(ctx context.Context, d store.Delivery) ([]store.Delivered, error)
	FolderUIDs(ctx context.Context, fid uint64) ([]uint32, error)
	Messages(ctx context.Context, fid uint64, uids []uint32) ([]store.Message, error)
	OpenMessage(ctx context.Context, m *store.Message) (io.ReadCloser, error)
	StoreFlags(ctx context.Context, fid uint64, uids []uint32, op store.FlagOp, flags []string, actor string) (map[uint32][]string, error)
	FlagsOf(ctx context.Context, fid uint64, uids []uint32) ([]store.UIDFlags, error)
	Expunge(ctx context.Context, fid uint64, uids []uint32, actor string) ([]uint32, error)
	Copy(ctx context.Context, src uint64, uids []uint32, dst uint64, actor string) (*store.CopyResult, error)
	Move(ctx context.Context, src uint64, uids []uint32, dst uint64, actor string) (*store.CopyResult, error)

	Queue(ctx context.Context) ([]store.QueueItem, error)
	QueueGet(ctx context.Context, id uint64) (*store.QueueItem, error)
	QueueUpdate(ctx context.Context, q *store.QueueItem) error
	QueueRemove(ctx context.Context, id uint64) error

	Subscribe(fn func(store.Event)) (cancel func())
	Snapshot(ctx context.Context, w io.Writer) (store.SnapshotStats, error)
}

// Open returns a fresh, empty store for one subtest; the backend's test
// closes it in t.Cleanup.
type Open func(t *testing.T) Backend

// Run runs the whole suite, each case on a store of its own.
func Run(t *testing.T, open Open) {
	cases := []struct {
		name string
		fn   func(t *testing.T, f *fixture)
	}{
		{"DeliverReadsBack", testDeliverReadsBack},
		{"DeliverManyTargetsOneCommit", testDeliverManyTargets},
		{"DeliverRefusedKeepsNothing", testDeliverRefused},
		{"DeliverRequirementsInTheTransaction", testDeliverRequirements},
		{"UIDsGrowAndAreNeverReused", testUIDsNeverReused},
		{"FlagsAndUnseen", testFlagsAndUnseen},
		{"ExpungeOnlyWhatWasAsked", testExpunge},
		{"CopyAndMove", testCopyAndMove},
		{"CopyIntoSameFolder", testCopySameFolder},
		{"Folders", testFolders},
		{"Aliases", testAliases},
		{"RightsTakeEffectAtOnce", testRights},
		{"MemberLimit", testMemberLimit},
		{"RecycleBin", testRecycleBin},
		{"OutboundQueue", testQueue},
		{"EventsInCommitOrder", testEventsOrder},
		{"EventsCarryFolderModSeq", testEventsModSeq},
		{"Snapshot", testSnapshot},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, newFixture(t, open(t)))
		})
	}
}
