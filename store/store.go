// Package store owns all persistent state of mailsrv: the metadata in an
// ordered key-value engine and the message bodies, behind the BlobStore
// interface (blob.go): one file per body under data_dir/blobs/ by default,
// or an S3 bucket (store/s3blobs). It is the only package that opens
// either.
//
// # Engines
//
// The store's logic (schema, rules, events) is written once against the
// transaction model of package store/kv: serial writable transactions
// across every process sharing the engine, ordered nestable buckets,
// NextSequence and cursors, which is bbolt's model. bbolt
// (data_dir/mailsrv.db, kv.OpenBolt) is the engine of a single server;
// PostgreSQL (store/kv/pgkv) is the engine of several servers sharing one
// database. This is how Stalwart runs one store over FoundationDB or
// PostgreSQL: each engine only provides ordered buckets and serialisable
// transactions, so every engine gets the same UIDs, MODSEQs and rules
// without a second implementation to keep in step. What only one engine
// can do is an optional interface of store/kv (kv.FileSnapshotter: the
// consistent file copy Snapshot puts in a backup, bbolt only).
//
// # Several servers on one engine
//
// What must agree between servers lives in the engine and changes in its
// write transactions: \Recent claims (the folder record's RecentUID,
// ClaimRecent), quotas (sums of folder records, per-mailbox limits),
// rights, and queue claims (leases with this store's ServerID, see
// queue_lease.go), so a queued message goes out once. What is kept per
// process, and why that is right:
//
//   - the change-event bus (events.go) reaches this server's sessions;
//     another server's commits reach them through the engine's own signal
//     (PostgreSQL LISTEN/NOTIFY, pgkv.DB.Listen), not through this bus;
//   - the default quota ([limits] quota_bytes) is configuration: servers
//     sharing an engine must be given the same value;
//   - the snapshot guard only defers this process's body removals, and
//     Snapshot exists only on bbolt (kv.FileSnapshotter), one process;
//   - the login cache (auth.Verifier) is keyed by the stored hash, so a
//     password change read from the engine ends it on every server; the
//     guessing throttle counts per server.
//
// # Durability
//
// A message body is written to its blob file and fsynced before the
// transaction that references it commits; the commit fsyncs the database.
// A small body on the local files store is written into that transaction
// instead (bucket blobinline, blob_inline.go), durable with it.
// Only then do callers answer 250 / OK. A crash between the two leaves an
// unreferenced blob, never a reference to a missing body; serve's hourly
// housekeeping removes such orphans once they are a day old
// (SweepOrphanBlobs). Blob files are
// created directly under their final name (no rename) so one fsync of the
// file suffices; on ext4/xfs the directory entry is journalled with the
// database commit that follows.
//
// # Group commit
//
// All writes go through one committer goroutine (see commit.go). While one
// transaction is being fsynced, new write requests queue up; the committer
// then runs every queued request in a single engine transaction and one
// fsync. There is no artificial delay: a lone writer commits at once, and
// concurrency alone creates batches. If any request in a batch fails, the
// batch is rolled back and each request is re-run in its own transaction,
// so one bad request never fails its neighbours. Request functions
// therefore must only touch the transaction (no outside side effects).
//
// Because one goroutine commits in order, change events (see events.go) are
// published in commit order, which IMAP sessions rely on.
//
// # Schema (bucket → key → value)
//
//	meta        "schema" → uint32 BE schema version (migrations in migrate.go)
//	domains     domain (A-label) → JSON Domain (incl. DKIM keys)
//	accounts    address → JSON Account (argon2id hash, mailbox id)
//	aliases     address or "@domain" (catch-all) → JSON Alias
//	mailboxes   id u64 BE → JSON Mailbox (personal or shared; trashed ones kept with Deleted set)
//	mbaddr      address → mailbox id u64 BE (live mailboxes only)
//	folders     mailbox id u64 → nested bucket: folder name → JSON Folder
//	folderids   folder id u64 → mailbox id u64 BE ++ folder name (reverse index)
//	msgs        folder id u64 → nested bucket with
//	              "m": uid u32 BE → JSON Message (blob, size, dates, envelope cache)
//	              "f": uid u32 BE → flags, space separated (kept apart so FETCH FLAGS
//	                   over 100k messages decodes only short strings)
//	blobrefs    blob id → u32 BE reference count (messages + queue entries)
//	acl         mailbox id u64 ++ member address → rights ("read,manage")
//	audit       mailbox id u64 ++ seq u64 → JSON AuditEntry
//	trash       id u64 → JSON TrashItem (recycle bin)
//	queue       id u64 → JSON QueueItem (outbound)
//	usersubs    member address ++ 0x00 ++ folder id u64 → "1"/"0": a member's own
//	              subscription to another mailbox's folder (usersubs.go)
//	roles       address ++ 0x00 ++ role → JSON RoleGrant: admin roles (roles.go);
//	              their changes are audited under mailbox id 0 (ServerAuditID)
//	spam        mailbox id u64 → nested bucket: junk-filter token counts, trained
//	              messages and known senders (spam.go)
//	replied     mailbox id u64 ++ sender address → u64 BE unix time of the last
//	              auto-reply or vacation notice to that sender (team_settings.go)
//	remind      mailbox id u64 → u64 BE unix time of the last reminder digest
//	blobgone    blob id → u64 BE unix nanoseconds its last reference went: bodies
//	              awaiting removal when the BlobStore delays it (blob_remove.go)
//	blobinline  blob id → the body: bodies of up to 64 KiB written with their
//	              delivery's commit instead of a BlobStore (blob_inline.go; schema 3)
//
// Addresses are stored normalised (see address.go). A live address is in
// exactly one of accounts, aliases or mbaddr-as-shared.
package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"mailsrv/store/kv"
)

// Errors callers map to protocol answers.
var (
	ErrNotFound       = errors.New("not found")
	ErrExists         = errors.New("already exists")
	ErrLocked         = errors.New("the data directory is in use by another mailsrv process")
	ErrClosed         = errors.New("store is closed")
	ErrTooLarge       = errors.New("message exceeds the size limit")
	ErrUnknownDomain  = errors.New("domain is not a local domain")
	ErrInvalidAddress = errors.New("invalid address")
	// ErrInvalid marks a request refused for what it asks (a bad folder
	// name, deleting INBOX): the error text is meant for the user.
	ErrInvalid = errors.New("invalid request")
)

// Options tune a Store; the zero value is fine.
type Options struct {
	// Now returns the current time; tests inject a fake clock.
	Now func() time.Time
	// Logger receives store diagnostics; nil means slog.Default().
	Logger *slog.Logger
	// NoSync disables fsync (benchmark baselines only, never in serve).
	NoSync bool
	// QuotaBytes is the default storage quota ([limits] quota_bytes;
	// quota.go); 0 = unlimited.
	QuotaBytes int64
	// Blobs keeps the message bodies ([blobs] backend); nil means files
	// under data_dir/blobs (NewFileBlobs).
	Blobs BlobStore
	// ServerID names this server among those sharing the engine (queue
	// leases). "" = the one kept in data_dir/server-id, created once, so a
	// restarted server takes its own leases back at once.
	ServerID string
	// CloseEngine makes Close close the engine too, when this store is
	// its only user (OpenEngine; Open always does).
	CloseEngine bool
	// InlineBodies keeps bodies of up to 64 KiB in the database, in the
	// delivery's own commit, instead of a file of their own: one
	// synchronous flush less per message (blob_inline.go). It applies
	// only to a store on the local files BlobStore with an engine of its
	// own, and is off by default, because SPEC §3 and §7 make every body
	// a file under data_dir/blobs ([blobs] inline_small_bodies turns it
	// on).
	InlineBodies bool
}

// Store is an open store: an engine, a blob store and this server's data
// directory.
type Store struct {
	dir     string
	blobDir string    // data_dir/blobs: the files BlobStore's directory
	blobs   BlobStore // message bodies (blob.go)

	blobRemoveDelay time.Duration // blob_remove.go
	db              kv.DB
	ownDB           bool   // Close closes db (Options.CloseEngine)
	id              string // ServerID
	now             func() time.Time
	log             *slog.Logger
	noSync          bool

	writes  chan *writeReq
	closeMu sync.RWMutex
	closed  bool
	loopWG  sync.WaitGroup

	bus bus
	// shared is the event pump when several servers share the engine
	// (events_shared.go); nil on bbolt.
	shared *eventLog
	snap   snapshotGuard

	quotaDefault atomic.Int64  // bytes; quota.go
	originSeq    atomic.Uint64 // NewOrigin (events.go)

	// Small bodies in the database (blob_inline.go): inlineMax is the
	// largest one new deliveries keep there (0: none), inlineSeen that
	// the database may hold some, pending the bodies not delivered yet
	// (blob id → *pendingBody).
	inlineMax  int64
	inlineSeen atomic.Bool
	pending    sync.Map
}

// DBFile is the database file name inside the data directory.
const DBFile = "mailsrv.db"

// Open opens (creating if needed) the data directory dir with its bbolt
// database. It fails at once with ErrLocked if another process holds the
// database. Close closes the database too.
func Open(dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	db, err := kv.OpenBolt(filepath.Join(dir, DBFile), kv.BoltOptions{NoSync: opts.NoSync})
	if err != nil {
		if errors.Is(err, kv.ErrLocked) {
			return nil, fmt.Errorf("%s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("open database: %w", err)
	}
	opts.CloseEngine = true
	s, err := OpenEngine(db, dir, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// OpenEngine opens a store on an open engine (bbolt from kv.OpenBolt, or
// PostgreSQL), creating its buckets and upgrading its schema. dir is this
// server's data directory (the admin socket, TLS state, and the bodies
// when opts.Blobs is nil). Several stores may share one engine, as several
// servers share one PostgreSQL database; the caller keeps ownership of db
// and closes it after every store on it is closed, unless
// opts.CloseEngine hands it to the store.
func OpenEngine(db kv.DB, dir string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	blobDir := filepath.Join(dir, "blobs")
	blobs := opts.Blobs
	if blobs == nil {
		var err error
		if blobs, err = NewFileBlobs(blobDir, opts.NoSync); err != nil {
			return nil, err
		}
	}
	s := &Store{
		dir:     dir,
		blobDir: blobDir,
		blobs:   blobs,
		db:      db,
		ownDB:   opts.CloseEngine,
		id:      opts.ServerID,
		now:     opts.Now,
		log:     opts.Logger,
		noSync:  opts.NoSync,
		writes:  make(chan *writeReq, 1024),
	}
	if s.id == "" {
		id, err := loadServerID(dir)
		if err != nil {
			return nil, err
		}
		s.id = id
	}
	if d, ok := blobs.(blobRemoveDelayer); ok {
		s.blobRemoveDelay = d.RemoveDelay()
	}
	if err := s.migrate(); err != nil {
		return nil, err
	}
	s.quotaDefault.Store(opts.QuotaBytes)
	if err := s.noteInline(context.Background()); err != nil { // at open, as migrate
		return nil, err
	}
	s.loopWG.Add(1)
	if l, ok := db.(changeListener); ok {
		e, err := startEventLog(s, l)
		if err != nil {
			return nil, fmt.Errorf("read change events: %w", err)
		}
		s.shared = e
	}
	// Inline bodies only where the bodies are this server's own files
	// and the engine is not shared: then nothing changes for servers
	// that share S3 and PostgreSQL (their removal delay, blob_remove.go).
	if opts.Blobs == nil && s.shared == nil && opts.InlineBodies {
		s.inlineMax = defaultInlineMax
	}
	go s.commitLoop()
	return s, nil
}

// ServerIDFile holds the ServerID of the server using the data directory.
const ServerIDFile = "server-id"

// loadServerID reads dir/server-id, creating it on first use with the host
// name and a random suffix, so two servers never share one.
func loadServerID(dir string) (string, error) {
	p := filepath.Join(dir, ServerIDFile)
	if b, err := os.ReadFile(p); err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b)), nil
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "mailsrv"
	}
	var b [6]byte
	rand.Read(b[:])
	id := host + "-" + hex.EncodeToString(b[:])
	if err := os.WriteFile(p, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write server id: %w", err)
	}
	return id, nil
}

// ServerID names this open store among the servers sharing its engine.
func (s *Store) ServerID() string { return s.id }

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Now returns the store's clock reading.
func (s *Store) Now() time.Time { return s.now() }

// Close waits for queued writes, stops the committer and closes the database.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.writes)
	s.closeMu.Unlock()
	s.loopWG.Wait()
	if s.shared != nil {
		s.shared.stop()
	}
	if !s.ownDB {
		return nil
	}
	return s.db.Close()
}

// view runs fn in a read-only transaction. Callers must copy what they need
// out of it and never write to a network client while it is open. ctx
// goes to the engine: a cancelled ctx fails the read before it starts
// (bbolt) or ends its queries (pgkv).
func (s *Store) view(ctx context.Context, fn func(tx kv.Tx) error) error {
	return s.db.View(ctx, fn)
}

// kindError is an error whose message is complete on its own but which
// still matches a sentinel (ErrNotFound, ErrExists, …) with errors.Is, so
// CLI output reads as one sentence instead of "…: already exists".
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &kindError{msg: fmt.Sprintf(format, args...), kind: kind}
}
