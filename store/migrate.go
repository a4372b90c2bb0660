package store

import (
	"context"
	"encoding/binary"
	"fmt"

	"mailsrv/store/kv"
)

// SchemaVersion is the schema this code reads and writes.
const SchemaVersion = 3

var allBuckets = []string{
	"meta", "domains", "accounts", "aliases", "mailboxes", "mbaddr",
	"folders", "folderids", "msgs", "blobrefs", "acl", "audit", "trash", "queue",
	"usersubs", // added within schema 1: additive, created at open
	"roles",    // admin roles (roles.go), additive like usersubs
	"subnames", // subscriptions without a folder (subnames.go), additive
	"spam",     // junk-filter state (spam.go), additive too
	"replied",  // auto-replies sent, per mailbox and sender (team_settings.go), additive
	"remind",   // last reminder digest per shared mailbox (team_settings.go), additive
	"quota",    // per-mailbox quota limits (quota.go), additive
	"prefs",    // users' team preferences (prefs.go), additive
	"blobgone", // bodies awaiting their delayed removal (blob_remove.go), additive
	"seenpvt",  // members' own \Seen in per-member shared mailboxes (seen_member.go), additive
	bktInline,  // small message bodies (blob_inline.go): schema 3, so an older mailsrv refuses the database
}

// migrations[v] upgrades a database from schema v to v+1. A new schema
// version appends a function here; migrate runs them in one transaction.
var migrations = map[uint32]func(tx kv.Tx) error{
	1: migrateModSeq, // RFC 7162 mod-sequences (modseq.go)
	// Schema 3 adds bucket blobinline (created above): bodies in files
	// read as before, and an older mailsrv, which would not find the
	// inline ones, refuses the database instead.
	2: func(kv.Tx) error { return nil },
}

func (s *Store) migrate() error {
	return s.db.Update(context.Background(), func(tx kv.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		meta := tx.Bucket([]byte("meta"))
		v := uint32(0)
		if b := meta.Get([]byte("schema")); len(b) == 4 {
			v = binary.BigEndian.Uint32(b)
		} else {
			v = SchemaVersion // a new database starts at the current schema
		}
		if v > SchemaVersion {
			return fmt.Errorf("database schema %d is newer than this mailsrv (%d): upgrade mailsrv", v, SchemaVersion)
		}
		for ; v < SchemaVersion; v++ {
			m, ok := migrations[v]
			if !ok {
				return fmt.Errorf("no migration from schema %d", v)
			}
			if err := m(tx); err != nil {
				return fmt.Errorf("migrate schema %d→%d: %w", v, v+1, err)
			}
		}
		return meta.Put([]byte("schema"), u32(SchemaVersion))
	})
}

func u32(v uint32) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, v)
	return b
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func getU32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
func getU64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
