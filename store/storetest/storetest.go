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
	"io"
	"testing"
	"time"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// Backend is what the suite needs of a store. It is defined here, where it
// is consumed; *store.Store satisfies it.
type Backend interface {
	AddDomain(d store.Domain) error
	AddUser(addr, name, passwordHash string) (*store.Account, error)
	User(addr string) (*store.Account, error)
	RemoveUser(addr string) (*store.TrashItem, error)

	AddAlias(addr, target string) error
	RemoveAlias(addr string) error
	Resolve(addr string) ([]uint64, error)

	CreateShared(addr, name, owner, passwordHash string, maxPerDomain int) (*store.Mailbox, error)
	MailboxByAddress(addr string) (*store.Mailbox, error)
	RemoveShared(addr, actor string) (*store.TrashItem, error)
	RestoreTrash(id uint64) (*store.TrashItem, error)
	PurgeTrash(id uint64) error
	Trash() ([]store.TrashItem, error)

	Grant(mbid uint64, member string, rights acl.Rights, maxMembers int, actor string) error
	Revoke(mbid uint64, member string, actor string) error
	RightsOf(mbid uint64, user string) (acl.Rights, error)
	ACL(mbid uint64) ([]store.ACLEntry, error)
	SharedFor(user string) ([]store.SharedAccess, error)
	AuditLog(mbid uint64, since time.Time) ([]store.AuditEntry, error)

	Folders(mbid uint64) ([]store.Folder, error)
	GetFolder(mbid uint64, name string) (*store.Folder, error)
	CreateFolder(mbid uint64, name, specialUse string) (*store.Folder, error)
	RenameFolder(mbid uint64, oldName, newName string) error
	DeleteFolder(mbid uint64, name string) error

	NewBlob(limit int64) (*store.BlobWriter, error)
	Deliver(d store.Delivery) ([]store.Delivered, error)
	FolderUIDs(fid uint64) ([]uint32, error)
	Messages(fid uint64, uids []uint32) ([]store.Message, error)
	OpenMessage(m *store.Message) (io.ReadCloser, error)
	StoreFlags(fid uint64, uids []uint32, op store.FlagOp, flags []string, actor string) (map[uint32][]string, error)
	FlagsOf(fid uint64, uids []uint32) ([]store.UIDFlags, error)
	Expunge(fid uint64, uids []uint32, actor string) ([]uint32, error)
	Copy(src uint64, uids []uint32, dst uint64, actor string) (*store.CopyResult, error)
	Move(src uint64, uids []uint32, dst uint64, actor string) (*store.CopyResult, error)

	Queue() ([]store.QueueItem, error)
	QueueGet(id uint64) (*store.QueueItem, error)
	QueueUpdate(q *store.QueueItem) error
	QueueRemove(id uint64) error

	Subscribe(fn func(store.Event)) (cancel func())
	Snapshot(w io.Writer) (store.SnapshotStats, error)
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
