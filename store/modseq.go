package store

// Mod-sequences (RFC 7162 CONDSTORE/QRESYNC) of folders and messages.
//
// Every folder has a HighestModSeq, raised by one for each change event
// the store publishes about the folder's messages (an added message, one
// flags change, one expunge), in the same transaction as the change; the
// event carries the new value (Event.ModSeq), so a subscriber that sees a
// folder's ModSeq jump by more than one knows it missed an event.
//
// Per folder, next to the "m" (records) and "f" (flags) buckets:
//   - "q":  uid → modseq of the message's last change;
//   - "qi": modseq‖uid → nothing, the same pairs ordered by modseq, so
//     "what changed since n" reads only what changed (CHANGEDSINCE, QRESYNC);
//   - "x":  modseq‖uid → unix time, expunge tombstones for QRESYNC.
//
// Messages stored before mod-sequences existed have no "q" entry: their
// modseq is 1, the value every folder's HighestModSeq starts at, so they
// are never "changed since" any value a client can have been told.
//
// Tombstones are kept for tombstoneAge and at most maxTombstones per
// folder; pruning raises Folder.TombFloor to the newest modseq it dropped.
// A QRESYNC client whose modseq is below the floor cannot be told exactly
// what vanished: Changes reports Complete=false and the IMAP layer then
// answers VANISHED (EARLIER) with every UID the client may know of that is
// no longer in the folder (RFC 7162 §3.2.5.2 allows a superset), which is
// still correct, just longer.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"mailsrv/store/kv"
)

const (
	tombstoneAge  = 30 * 24 * time.Hour
	maxTombstones = 100_000
	// prunePerTx bounds the tombstones one transaction prunes.
	prunePerTx = 2_000
)

var (
	bktModSeq   = []byte("q")
	bktModIndex = []byte("qi")
	bktTombs    = []byte("x")
)

// nextModSeq raises f's HighestModSeq for one change and returns it (the
// caller saves f).
func (f *Folder) nextModSeq() uint64 {
	if f.HighestModSeq == 0 {
		f.HighestModSeq = 1
	}
	f.HighestModSeq++
	return f.HighestModSeq
}

// modSeqBuckets returns folder bucket fm's modseq buckets, creating them
// (a write transaction on a database the migration has not reached).
func modSeqBuckets(fm kv.Bucket) (q, qi, x kv.Bucket, err error) {
	if q, err = fm.CreateBucketIfNotExists(bktModSeq); err != nil {
		return
	}
	if qi, err = fm.CreateBucketIfNotExists(bktModIndex); err != nil {
		return
	}
	x, err = fm.CreateBucketIfNotExists(bktTombs)
	return
}

func modKey(ms uint64, uid uint32) []byte {
	k := make([]byte, 12)
	copy(k, u64(ms))
	copy(k[8:], u32(uid))
	return k
}

// modSeqOf reads uid's modseq from bucket q (nil in a read transaction
// of an unmigrated folder).
func modSeqOf(q kv.Bucket, uid uint32) uint64 {
	if q == nil {
		return 1
	}
	if v := q.Get(u32(uid)); len(v) == 8 {
		return getU64(v)
	}
	return 1
}

// setModSeq records that uid changed at ms.
func (t *Tx) setModSeq(fm kv.Bucket, uid uint32, ms uint64) error {
	q, qi, _, err := modSeqBuckets(fm)
	if err != nil {
		return err
	}
	if old := q.Get(u32(uid)); len(old) == 8 {
		if err := qi.Delete(modKey(getU64(old), uid)); err != nil {
			return err
		}
	}
	if err := q.Put(u32(uid), u64(ms)); err != nil {
		return err
	}
	return qi.Put(modKey(ms, uid), nil)
}

// bury removes uids' modseq entries and leaves tombstones at ms, then
// prunes old tombstones of f (the caller saves f).
func (t *Tx) bury(f *Folder, uids []uint32, ms uint64) error {
	fm := bucket(t.tx, "msgs").Bucket(u64(f.ID))
	q, qi, x, err := modSeqBuckets(fm)
	if err != nil {
		return err
	}
	now := t.s.now()
	for _, uid := range uids {
		if old := q.Get(u32(uid)); len(old) == 8 {
			if err := qi.Delete(modKey(getU64(old), uid)); err != nil {
				return err
			}
			if err := q.Delete(u32(uid)); err != nil {
				return err
			}
		}
		if err := x.Put(modKey(ms, uid), u64(uint64(now.Unix()))); err != nil {
			return err
		}
		f.Tombstones++
	}
	cutoff := uint64(now.Add(-tombstoneAge).Unix())
	c := x.Cursor()
	for n, k, v := 0, []byte(nil), []byte(nil); n < prunePerTx; n++ {
		k, v = c.First()
		if k == nil || f.Tombstones <= maxTombstones && len(v) == 8 && getU64(v) >= cutoff {
			break
		}
		f.TombFloor = max(f.TombFloor, getU64(k[:8]))
		if err := c.Delete(); err != nil {
			return err
		}
		if f.Tombstones > 0 {
			f.Tombstones--
		}
	}
	return nil
}

// Tombstone is one expunged message.
type Tombstone struct {
	UID    uint32
	ModSeq uint64
}

// Changes is what happened in a folder after a modseq.
type Changes struct {
	UIDValidity   uint32
	HighestModSeq uint64
	// Changed are the messages whose modseq is above the asked one, in
	// UID order, with their flags.
	Changed []UIDFlags
	// Vanished are the tombstones above the asked modseq, in UID order.
	Vanished []Tombstone
	// Complete is false when tombstones above the asked modseq were
	// pruned: Vanished is then not all that vanished.
	Complete bool
}

// ChangesSince reads, in one transaction, the messages of folder fid
// changed and expunged after modseq since. It reads only the changes
// (the modseq index), never the whole folder.
func (s *Store) ChangesSince(ctx context.Context, fid uint64, since uint64) (*Changes, error) {
	var out *Changes
	err := s.view(ctx, func(tx kv.Tx) error {
		f, err := getFolderByIDTx(tx, fid)
		if err != nil {
			return err
		}
		fm := bucket(tx, "msgs").Bucket(u64(fid))
		if fm == nil {
			return fmt.Errorf("folder id %d: %w", fid, ErrNotFound)
		}
		out = &Changes{UIDValidity: f.UIDValidity, HighestModSeq: max(f.HighestModSeq, 1), Complete: since >= f.TombFloor}
		fb := fm.Bucket(bktFlags)
		start := u64(since + 1)
		if since == 0 {
			// Everything is above 0, including the messages older than
			// mod-sequences that the index does not list.
			q := fm.Bucket(bktModSeq)
			if err := fb.ForEach(func(k, v []byte) error {
				uid := getU32(k)
				out.Changed = append(out.Changed, UIDFlags{UID: uid, Flags: splitFlags(v), ModSeq: modSeqOf(q, uid)})
				return nil
			}); err != nil {
				return err
			}
		} else if qi := fm.Bucket(bktModIndex); qi != nil {
			c := qi.Cursor()
			for k, _ := c.Seek(start); k != nil; k, _ = c.Next() {
				uid := getU32(k[8:])
				out.Changed = append(out.Changed, UIDFlags{UID: uid, Flags: splitFlags(fb.Get(u32(uid))), ModSeq: getU64(k[:8])})
			}
		}
		if x := fm.Bucket(bktTombs); x != nil {
			c := x.Cursor()
			for k, _ := c.Seek(start); k != nil; k, _ = c.Next() {
				out.Vanished = append(out.Vanished, Tombstone{UID: getU32(k[8:]), ModSeq: getU64(k[:8])})
			}
		}
		slices.SortFunc(out.Changed, func(a, b UIDFlags) int { return cmpU32(a.UID, b.UID) })
		slices.SortFunc(out.Vanished, func(a, b Tombstone) int { return cmpU32(a.UID, b.UID) })
		return nil
	})
	return out, err
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// FolderUIDsAt is FolderUIDs together with the folder's HighestModSeq read
// in the same transaction: the modseq that UID list is current at.
func (s *Store) FolderUIDsAt(ctx context.Context, fid uint64) ([]uint32, uint64, error) {
	var (
		uids []uint32
		ms   uint64
	)
	err := s.view(ctx, func(tx kv.Tx) error {
		f, err := getFolderByIDTx(tx, fid)
		if err != nil {
			return err
		}
		ms = max(f.HighestModSeq, 1)
		fm := bucket(tx, "msgs").Bucket(u64(fid))
		if fm == nil {
			return fmt.Errorf("folder id %d: %w", fid, ErrNotFound)
		}
		fb := fm.Bucket(bktFlags)
		uids = make([]uint32, 0, fb.KeyN())
		c := fb.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			uids = append(uids, getU32(k))
		}
		return nil
	})
	return uids, ms, err
}

// migrateModSeq is the schema 1→2 migration: every folder gets its modseq
// buckets and a HighestModSeq of 1 (its messages' implicit modseq). It is
// idempotent: a folder that has them is left as it is.
func migrateModSeq(tx kv.Tx) error {
	folders := tx.Bucket([]byte("folders"))
	msgs := tx.Bucket([]byte("msgs"))
	return folders.ForEach(func(mbid, v []byte) error {
		fb := folders.Bucket(mbid)
		if v != nil || fb == nil {
			return nil
		}
		type kv struct{ k, v []byte }
		var updates []kv
		err := fb.ForEach(func(name, _ []byte) error {
			var f Folder
			if _, err := getJSON(fb, name, &f); err != nil {
				return err
			}
			if fm := msgs.Bucket(u64(f.ID)); fm != nil {
				if _, _, _, err := modSeqBuckets(fm); err != nil {
					return err
				}
			}
			if f.HighestModSeq != 0 {
				return nil
			}
			f.HighestModSeq = 1
			raw, err := json.Marshal(&f)
			if err != nil {
				return err
			}
			updates = append(updates, kv{bytes.Clone(name), raw})
			return nil
		})
		if err != nil {
			return err
		}
		for _, u := range updates {
			if err := fb.Put(u.k, u.v); err != nil {
				return err
			}
		}
		return nil
	})
}

// StoreResult is what StoreFlagsIf did.
type StoreResult struct {
	// Flags and ModSeq hold each stored message's flags and modseq after
	// the call (also those whose flags did not change).
	Flags  map[uint32][]string
	ModSeq map[uint32]uint64
	// Modified lists the messages left alone because their modseq was
	// above unchangedSince.
	Modified []uint32
}

// StoreFlagsIf is StoreFlagsFrom with RFC 7162's UNCHANGEDSINCE: with
// unchangedSince not nil a message whose modseq is above it is not
// changed but listed in Modified (with 0, every message: modseqs start at
// 1); the check and the change are one transaction.
func (s *Store) StoreFlagsIf(ctx context.Context, origin Origin, fid uint64, uids []uint32, op FlagOp, flags []string, actor string, unchangedSince *uint64) (*StoreResult, error) {
	flags = normalizeFlags(canonicalTeamFlags(flags))
	var res *StoreResult
	err := s.update(ctx, func(t *Tx) error {
		out, modified, err := t.changeFlagsIf(origin, fid, uids, op, flags, actor, true, unchangedSince)
		if err != nil {
			return err
		}
		res = &StoreResult{Flags: out, ModSeq: map[uint32]uint64{}, Modified: modified}
		viewer := ""
		if f, err := getFolderByIDTx(t.tx, fid); err == nil {
			viewer = viewerTx(t.tx, f, actor)
		}
		for uid := range out {
			res.ModSeq[uid] = t.modSeqAs(fid, viewer, uid)
		}
		return nil
	})
	return res, err
}
