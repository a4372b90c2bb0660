package store

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailsrv/store/kv"
)

// TestModSeqHistory checks that every change raises the folder's modseq
// by one in the same transaction, that the event carries it, and that
// ChangesSince returns exactly what changed after a given point.
func TestModSeqHistory(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	s.AddDomain(t.Context(), Domain{Name: "example.com"})
	acct, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	var (
		mu     sync.Mutex
		events []Event
	)
	s.Subscribe(func(ev Event) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	})
	tg := Target{MailboxID: acct.MailboxID}
	for i := 0; i < 4; i++ {
		deliver(t, s, testMsg, tg)
	}
	inbox, _ := s.GetFolder(t.Context(), acct.MailboxID, "INBOX")
	if inbox.HighestModSeq != 5 {
		t.Fatalf("modseq after 4 appends: %d", inbox.HighestModSeq)
	}
	mark := inbox.HighestModSeq
	if _, err := s.StoreFlags(t.Context(), inbox.ID, []uint32{2, 3}, FlagsAdd, []string{`\Flagged`}, ""); err != nil {
		t.Fatal(err)
	}
	// A no-op store changes nothing and raises nothing.
	if _, err := s.StoreFlags(t.Context(), inbox.ID, []uint32{2}, FlagsAdd, []string{`\Flagged`}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Expunge(t.Context(), inbox.ID, []uint32{1, 3}, ""); err != nil {
		t.Fatal(err)
	}
	ch, err := s.ChangesSince(t.Context(), inbox.ID, mark)
	if err != nil {
		t.Fatal(err)
	}
	if ch.HighestModSeq != 7 || !ch.Complete {
		t.Fatalf("changes: %+v", ch)
	}
	if len(ch.Changed) != 1 || ch.Changed[0].UID != 2 || ch.Changed[0].ModSeq != 6 || !slices.Equal(ch.Changed[0].Flags, []string{`\Flagged`}) {
		t.Fatalf("changed: %+v", ch.Changed)
	}
	if !slices.Equal(ch.Vanished, []Tombstone{{1, 7}, {3, 7}}) {
		t.Fatalf("vanished: %+v", ch.Vanished)
	}
	// UNCHANGEDSINCE: message 2 changed at 6, message 4 at 5.
	five := uint64(5)
	res, err := s.StoreFlagsIf(t.Context(), 0, inbox.ID, []uint32{2, 4}, FlagsAdd, []string{`\Seen`}, "", &five)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Modified, []uint32{2}) || res.ModSeq[4] != 8 || len(res.Flags) != 1 {
		t.Fatalf("store if: %+v", res)
	}
	mu.Lock()
	var seqs []uint64
	for _, ev := range events {
		if ev.FolderID == inbox.ID && ev.Kind != EventFolders {
			seqs = append(seqs, ev.ModSeq)
		}
	}
	mu.Unlock()
	if !slices.Equal(seqs, []uint64{2, 3, 4, 5, 6, 7, 8}) {
		t.Fatalf("event modseqs %v", seqs)
	}
	s.Close()

	s = openTest(t, dir)
	msgs, _ := s.Messages(t.Context(), inbox.ID, []uint32{2, 4})
	if len(msgs) != 2 || msgs[0].ModSeq != 6 || msgs[1].ModSeq != 8 {
		t.Fatalf("modseqs after reopen: %+v", msgs)
	}
	ch, _ = s.ChangesSince(t.Context(), inbox.ID, 6)
	if ch.HighestModSeq != 8 || len(ch.Changed) != 1 || ch.Changed[0].UID != 4 || len(ch.Vanished) != 2 {
		t.Fatalf("changes after reopen: %+v", ch)
	}
	// A move leaves tombstones in the source and raises the target.
	arch, _ := s.GetFolder(t.Context(), acct.MailboxID, "Archive")
	if _, err := s.Move(t.Context(), inbox.ID, []uint32{4}, arch.ID, ""); err != nil {
		t.Fatal(err)
	}
	ch, _ = s.ChangesSince(t.Context(), inbox.ID, 8)
	if !slices.Equal(ch.Vanished, []Tombstone{{4, 9}}) {
		t.Fatalf("after move: %+v", ch)
	}
	ca, _ := s.ChangesSince(t.Context(), arch.ID, 1)
	if ca.HighestModSeq != 2 || len(ca.Changed) != 1 || ca.Changed[0].ModSeq != 2 {
		t.Fatalf("move target: %+v", ca)
	}
}

// TestTombstonesPrunedAfter30Days checks the bound on tombstones and that
// a client behind the pruned ones is told the answer is incomplete.
func TestTombstonesPrunedAfter30Days(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, err := Open(t.TempDir(), Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddDomain(t.Context(), Domain{Name: "example.com"})
	acct, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	tg := Target{MailboxID: acct.MailboxID}
	for i := 0; i < 3; i++ {
		deliver(t, s, testMsg, tg)
	}
	inbox, _ := s.GetFolder(t.Context(), acct.MailboxID, "INBOX")
	s.Expunge(t.Context(), inbox.ID, []uint32{1}, "") // modseq 5
	mu.Lock()
	now = now.Add(31 * 24 * time.Hour)
	mu.Unlock()
	s.Expunge(t.Context(), inbox.ID, []uint32{2}, "") // modseq 6, prunes uid 1's
	ch, _ := s.ChangesSince(t.Context(), inbox.ID, 4)
	if ch.Complete || !slices.Equal(ch.Vanished, []Tombstone{{2, 6}}) {
		t.Fatalf("behind the floor: %+v", ch)
	}
	ch, _ = s.ChangesSince(t.Context(), inbox.ID, 5)
	if !ch.Complete || len(ch.Vanished) != 1 {
		t.Fatalf("at the floor: %+v", ch)
	}
}

// TestMigrateSchema1ModSeq builds a data directory as schema 1 wrote it
// (no modseq buckets, no modseq in folder records, schema 1 in meta),
// reopens it and checks the migration: HIGHESTMODSEQ 1, every old message
// at modseq 1, new changes above it; a second open changes nothing.
func TestMigrateSchema1ModSeq(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	s.AddDomain(t.Context(), Domain{Name: "example.com"})
	acct, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	tg := Target{MailboxID: acct.MailboxID}
	deliver(t, s, testMsg, tg)
	deliver(t, s, testMsg, tg)
	inbox, _ := s.GetFolder(t.Context(), acct.MailboxID, "INBOX")
	s.Close()
	downgradeToSchema1(t, dir)

	s = openTest(t, dir)
	f, _ := s.GetFolder(t.Context(), acct.MailboxID, "INBOX")
	if f.HighestModSeq != 1 {
		t.Fatalf("migrated modseq %d", f.HighestModSeq)
	}
	msgs, _ := s.Messages(t.Context(), inbox.ID, []uint32{1, 2})
	if len(msgs) != 2 || msgs[0].ModSeq != 1 || msgs[1].ModSeq != 1 {
		t.Fatalf("migrated messages %+v", msgs)
	}
	if ch, _ := s.ChangesSince(t.Context(), inbox.ID, 1); len(ch.Changed)+len(ch.Vanished) != 0 || ch.HighestModSeq != 1 {
		t.Fatalf("changes since 1: %+v", ch)
	}
	s.StoreFlags(t.Context(), inbox.ID, []uint32{2}, FlagsAdd, []string{`\Seen`}, "")
	s.Expunge(t.Context(), inbox.ID, []uint32{1}, "")
	ch, _ := s.ChangesSince(t.Context(), inbox.ID, 1)
	if ch.HighestModSeq != 3 || len(ch.Changed) != 1 || ch.Changed[0].ModSeq != 2 || !slices.Equal(ch.Vanished, []Tombstone{{1, 3}}) {
		t.Fatalf("after migration: %+v", ch)
	}
	s.Close()
	s = openTest(t, dir) // idempotent: the second open keeps everything
	if f, _ := s.GetFolder(t.Context(), acct.MailboxID, "INBOX"); f.HighestModSeq != 3 {
		t.Fatalf("reopen modseq %d", f.HighestModSeq)
	}
}

// downgradeToSchema1 rewrites dir's database into the form schema 1 had.
func downgradeToSchema1(t *testing.T, dir string) {
	t.Helper()
	db, err := kv.OpenBolt(filepath.Join(dir, DBFile), kv.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(context.Background(), func(tx kv.Tx) error {
		tx.Bucket([]byte("meta")).Put([]byte("schema"), u32(1))
		msgs := tx.Bucket([]byte("msgs"))
		msgs.ForEach(func(k, _ []byte) error {
			fm := msgs.Bucket(k)
			for _, b := range [][]byte{bktModSeq, bktModIndex, bktTombs} {
				fm.DeleteBucket(b)
			}
			return nil
		})
		folders := tx.Bucket([]byte("folders"))
		return folders.ForEach(func(k, _ []byte) error {
			fb := folders.Bucket(k)
			var names [][]byte
			fb.ForEach(func(n, _ []byte) error { names = append(names, n); return nil })
			for _, n := range names {
				var m map[string]any
				json.Unmarshal(fb.Get(n), &m)
				delete(m, "modseq")
				delete(m, "tomb_floor")
				delete(m, "tombstones")
				raw, _ := json.Marshal(m)
				fb.Put(n, raw)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrateSchema1Fixture opens a data directory written by the schema-1
// code itself (main at 2165323, before mod-sequences: alice@example.com,
// four deliveries to INBOX, \Seen on 1 and 2, 3 expunged; packed in
// testdata/schema1-datadir.tar.gz) and checks the migration: schema 2,
// HIGHESTMODSEQ 1, the old messages readable at modseq 1, and new changes
// above it that QRESYNC's ChangesSince sees.
func TestMigrateSchema1Fixture(t *testing.T) {
	dir := t.TempDir()
	untarFixture(t, "testdata/schema1-datadir.tar.gz", dir)
	s := openTest(t, dir)
	acct, err := s.User(t.Context(), "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.GetFolder(t.Context(), acct.MailboxID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if in.HighestModSeq != 1 || in.Messages != 3 || in.UIDNext != 5 {
		t.Fatalf("migrated INBOX %+v", in)
	}
	msgs, err := s.Messages(t.Context(), in.ID, []uint32{1, 2, 3, 4})
	if err != nil || len(msgs) != 3 {
		t.Fatalf("messages %+v %v", msgs, err)
	}
	for _, m := range msgs {
		if m.ModSeq != 1 || m.Envelope == nil || !strings.HasPrefix(m.Envelope.Subject, "old ") {
			t.Fatalf("migrated message %+v", m)
		}
		rc, err := s.OpenMessage(t.Context(), &m)
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	if !slices.Equal(msgs[0].Flags, []string{`\Seen`}) || len(msgs[2].Flags) != 0 {
		t.Fatalf("flags %v %v", msgs[0].Flags, msgs[2].Flags)
	}
	s.StoreFlags(t.Context(), in.ID, []uint32{4}, FlagsAdd, []string{`\Flagged`}, "")
	s.Expunge(t.Context(), in.ID, []uint32{1}, "")
	deliver(t, s, testMsg, Target{MailboxID: acct.MailboxID})
	ch, err := s.ChangesSince(t.Context(), in.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ch.HighestModSeq != 4 || !ch.Complete || len(ch.Changed) != 2 || ch.Changed[0].UID != 4 || ch.Changed[1].UID != 5 ||
		!slices.Equal(ch.Vanished, []Tombstone{{1, 3}}) {
		t.Fatalf("changes after migration: %+v", ch)
	}
	var schema uint32
	s.view(t.Context(), func(tx kv.Tx) error {
		schema = getU32(tx.Bucket([]byte("meta")).Get([]byte("schema")))
		return nil
	})
	if schema != SchemaVersion {
		t.Fatalf("schema %d after migration", schema)
	}
}

func untarFixture(t *testing.T, path, dir string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, filepath.Clean(dir)) {
			t.Fatalf("fixture entry %q escapes", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// BenchmarkChangesSince is the store side of a QRESYNC resync: what
// changed after 100 flag changes, in a 10k and a 100k folder. It reads
// only the modseq index, so the time must not grow with the folder.
func BenchmarkChangesSince(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			s.AddDomain(b.Context(), Domain{Name: "example.com"})
			acct, _ := s.AddUser(b.Context(), "alice@example.com", "", "h")
			in, _ := s.GetFolder(b.Context(), acct.MailboxID, "INBOX")
			// Records without body files: only the index matters here.
			err = s.update(b.Context(), func(t *Tx) error {
				f, err := getFolderByIDTx(t.tx, in.ID)
				if err != nil {
					return err
				}
				for i := 0; i < n; i++ {
					if _, err := t.addMessage(f, &Message{Blob: "bench", Size: 100, InternalDate: time.Unix(0, 0)}, nil); err != nil {
						return err
					}
				}
				t.events = nil
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			in, _ = s.GetFolder(b.Context(), acct.MailboxID, "INBOX")
			mark := in.HighestModSeq
			rng := rand.New(rand.NewSource(1))
			for i := 0; i < 100; i++ {
				uid := uint32(rng.Intn(n) + 1)
				if _, err := s.StoreFlags(b.Context(), in.ID, []uint32{uid}, FlagsSet, []string{fmt.Sprintf("$K%d", i)}, ""); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ch, err := s.ChangesSince(b.Context(), in.ID, mark)
				if err != nil || len(ch.Changed) == 0 || len(ch.Changed) > 100 {
					b.Fatalf("%d changes, %v", len(ch.Changed), err)
				}
			}
		})
	}
}
