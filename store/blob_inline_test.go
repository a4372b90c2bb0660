package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailsrv/store/kv"
)

// Tests of small bodies kept in the database (blob_inline.go). The
// blobtest suite (TestStoreOnFileBlobs/inline) runs the shared checks.

func bigMsg(subject string) string {
	return "Subject: " + subject + "\r\n\r\n" + strings.Repeat("a line of a large message body\r\n", 3000) // ~96 KiB
}

func smallMsg(subject string) string {
	return "Subject: " + subject + "\r\n\r\n" + strings.Repeat("a line of a small message body\r\n", 90) // ~3 KiB
}

// blobFiles lists the body files under dir/blobs.
func blobFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, filepath.Base(p))
		}
		return nil
	})
	return out
}

func readAllMsg(t *testing.T, s *Store, fid uint64, uid uint32) (string, error) {
	t.Helper()
	ms, err := s.Messages(t.Context(), fid, []uint32{uid})
	if err != nil || len(ms) != 1 {
		t.Fatalf("Messages(%d): %v %v", uid, ms, err)
	}
	r, err := s.OpenMessage(t.Context(), &ms[0])
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err
}

func inlineCount(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	s.view(t.Context(), func(tx kv.Tx) error {
		return bucket(tx, bktInline).ForEach(func(_, _ []byte) error { n++; return nil })
	})
	return n
}

// A small body is written by the delivery's commit and no file is made
// for it; a large one is a file as before. Both read back whole and from
// an offset.
func TestInlineSmallBodyHasNoFile(t *testing.T) {
	s := newInlineTestStore(t)
	a, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	small, big := smallMsg("small"), bigMsg("big")
	ds := deliver(t, s, small, Target{MailboxID: a.MailboxID})
	db := deliver(t, s, big, Target{MailboxID: a.MailboxID})
	if files := blobFiles(t, s.Dir()); len(files) != 1 {
		t.Fatalf("body files %v, want only the large body's", files)
	}
	if n := inlineCount(t, s); n != 1 {
		t.Fatalf("%d bodies in the database, want 1", n)
	}
	for _, c := range []struct {
		d    Delivered
		want string
	}{{ds[0], small}, {db[0], big}} {
		got, err := readAllMsg(t, s, c.d.FolderID, c.d.UID)
		if err != nil || got != c.want {
			t.Fatalf("UID %d: %d bytes, %v; want %d", c.d.UID, len(got), err, len(c.want))
		}
	}
	ms, _ := s.Messages(t.Context(), ds[0].FolderID, []uint32{ds[0].UID})
	if got, err := s.ReadMessage(t.Context(), &ms[0], nil); err != nil || string(got) != small {
		t.Fatalf("ReadMessage of an inline body: %d bytes, %v", len(got), err)
	}
	r, err := s.OpenMessage(t.Context(), &ms[0])
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sk, ok := r.(io.Seeker)
	if !ok {
		t.Fatalf("inline body reader %T cannot seek", r)
	}
	if _, err := sk.Seek(100, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 30)
	if _, err := io.ReadFull(r, got); err != nil || string(got) != small[100:130] {
		t.Fatalf("30 bytes at 100: %q %v", got, err)
	}
}

// Before its delivery a small body is readable by id (the spam filter and
// the DKIM signer read it then); Abort makes it unknown; a delivered one
// is read from the database.
func TestInlinePendingBody(t *testing.T) {
	s := newInlineTestStore(t)
	a, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	w, err := s.NewBlob(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, smallMsg("pending"))
	read := func(id string) (string, error) {
		r, err := s.OpenBlob(t.Context(), id)
		if err != nil {
			return "", err
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		return string(b), err
	}
	if got, err := read(w.ID()); err != nil || got != smallMsg("pending") {
		t.Fatalf("before Sync: %d bytes, %v", len(got), err)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if _, err := read(w.ID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("aborted body: %v, want ErrNotFound", err)
	}

	w2, _ := s.NewBlob(t.Context(), 0)
	io.WriteString(w2, smallMsg("delivered"))
	w2.Sync()
	if _, err := s.Deliver(t.Context(), Delivery{Blob: w2, Targets: []Target{{MailboxID: a.MailboxID}}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.pending.Load(w2.ID()); ok {
		t.Fatal("a delivered body is still held in memory")
	}
	if got, err := read(w2.ID()); err != nil || got != smallMsg("delivered") {
		t.Fatalf("delivered: %d bytes, %v", len(got), err)
	}

	// A body that outgrows the limit while being written becomes a file,
	// readable before its Sync as files always were.
	w3, _ := s.NewBlob(t.Context(), 0)
	io.WriteString(w3, smallMsg("grows"))
	io.WriteString(w3, bigMsg("grows"))
	if got, err := read(w3.ID()); err != nil || got != smallMsg("grows")+bigMsg("grows") {
		t.Fatalf("spilled body: %d bytes, %v", len(got), err)
	}
	w3.Abort()
}

// The body goes when its last message does, in that commit.
func TestInlineExpungeRemovesBody(t *testing.T) {
	s := newInlineTestStore(t)
	a, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	b, _ := s.AddUser(t.Context(), "bob@example.com", "", "h")
	d := deliver(t, s, smallMsg("two"), Target{MailboxID: a.MailboxID}, Target{MailboxID: b.MailboxID})
	if _, err := s.Expunge(t.Context(), d[0].FolderID, []uint32{d[0].UID}, ""); err != nil {
		t.Fatal(err)
	}
	if got, err := readAllMsg(t, s, d[1].FolderID, d[1].UID); err != nil || got != smallMsg("two") {
		t.Fatalf("bob's copy after alice's expunge: %v", err)
	}
	ms, _ := s.Messages(t.Context(), d[1].FolderID, []uint32{d[1].UID})
	if _, err := s.Expunge(t.Context(), d[1].FolderID, []uint32{d[1].UID}, ""); err != nil {
		t.Fatal(err)
	}
	if n := inlineCount(t, s); n != 0 {
		t.Fatalf("%d bodies left in the database after the last expunge", n)
	}
	if _, err := s.OpenMessage(t.Context(), &ms[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expunged body: %v, want ErrNotFound", err)
	}
}

// A snapshot carries small bodies inside its database file and large ones
// as files; the restored directory reads both.
func TestInlineSnapshotRestore(t *testing.T) {
	s := newInlineTestStore(t)
	a, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	ds := deliver(t, s, smallMsg("small"), Target{MailboxID: a.MailboxID})
	db := deliver(t, s, bigMsg("big"), Target{MailboxID: a.MailboxID})
	var buf bytes.Buffer
	st, err := s.Snapshot(t.Context(), &buf)
	if err != nil || st.Blobs != 1 {
		t.Fatalf("snapshot %+v %v, want 1 body file", st, err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := Restore(&buf, dir, nil); err != nil {
		t.Fatal(err)
	}
	r := openTest(t, dir)
	if got, err := readAllMsg(t, r, ds[0].FolderID, ds[0].UID); err != nil || got != smallMsg("small") {
		t.Fatalf("restored small: %d bytes, %v", len(got), err)
	}
	if got, err := readAllMsg(t, r, db[0].FolderID, db[0].UID); err != nil || got != bigMsg("big") {
		t.Fatalf("restored big: %d bytes, %v", len(got), err)
	}
}

// delayedFiles is the files BlobStore with a removal delay, as S3's.
type delayedFiles struct{ BlobStore }

func (delayedFiles) RemoveDelay() time.Duration { return time.Hour }

// `mailsrv migrate` copies small bodies with the database (bucket
// blobinline) and large ones through the target BlobStore. On a target
// with a removal delay (S3, several servers) an expunged small body is
// readable until SweepRemovedBlobs, which then removes it.
func TestInlineCopyToAndDelayedRemoval(t *testing.T) {
	ctx := context.Background()
	src := newInlineTestStore(t)
	a, _ := src.AddUser(t.Context(), "alice@example.com", "", "h")
	ds := deliver(t, src, smallMsg("small"), Target{MailboxID: a.MailboxID})
	db := deliver(t, src, bigMsg("big"), Target{MailboxID: a.MailboxID})

	tdir := t.TempDir()
	dst, err := kv.OpenBolt(filepath.Join(tdir, DBFile), kv.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := NewFileBlobs(filepath.Join(tdir, "blobs"), false)
	if err != nil {
		t.Fatal(err)
	}
	st, err := src.CopyTo(ctx, dst, files, nil)
	if err != nil || st.Blobs != 1 || st.Messages != 2 {
		t.Fatalf("CopyTo %+v %v", st, err)
	}
	now := time.Now()
	clock := func() time.Time { return now }
	tgt, err := OpenEngine(dst, tdir, Options{Blobs: delayedFiles{files}, Now: clock, CloseEngine: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	if tgt.inlineMax != 0 {
		t.Fatal("a store on a BlobStore other than its own files keeps new bodies in the database")
	}
	for _, c := range []struct {
		d    Delivered
		want string
	}{{ds[0], smallMsg("small")}, {db[0], bigMsg("big")}} {
		if got, err := readAllMsg(t, tgt, c.d.FolderID, c.d.UID); err != nil || got != c.want {
			t.Fatalf("copied UID %d: %d bytes, %v", c.d.UID, len(got), err)
		}
	}
	ms, _ := tgt.Messages(t.Context(), ds[0].FolderID, []uint32{ds[0].UID})
	if _, err := tgt.Expunge(t.Context(), ds[0].FolderID, []uint32{ds[0].UID}, ""); err != nil {
		t.Fatal(err)
	}
	r, err := tgt.OpenMessage(t.Context(), &ms[0])
	if err != nil {
		t.Fatalf("small body within its removal delay: %v", err)
	}
	r.Close()
	now = now.Add(2 * time.Hour)
	if n, err := tgt.SweepRemovedBlobs(t.Context()); err != nil || n != 1 {
		t.Fatalf("SweepRemovedBlobs: %d, %v; want 1", n, err)
	}
	if _, err := tgt.OpenMessage(t.Context(), &ms[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("small body after the sweep: %v, want ErrNotFound", err)
	}
	if n := inlineCount(t, tgt); n != 0 {
		t.Fatalf("%d bodies left in the database", n)
	}
}

// A data directory written before small bodies went into the database
// (schema 2, every body a file) opens, is upgraded to schema 3, and reads
// its old bodies next to new inline ones; an old file body still goes
// with its last message.
func TestInlineOldFileBodiesStillRead(t *testing.T) {
	dir := t.TempDir()
	old, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	old.AddDomain(t.Context(), Domain{Name: "example.com"})
	a, _ := old.AddUser(t.Context(), "alice@example.com", "", "h")
	d1 := deliver(t, old, smallMsg("old"), Target{MailboxID: a.MailboxID})
	old.Close()
	if files := blobFiles(t, dir); len(files) != 1 {
		t.Fatalf("old layout: files %v", files)
	}
	// Mark it schema 2, as the previous mailsrv left it.
	db, err := kv.OpenBolt(filepath.Join(dir, DBFile), kv.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(context.Background(), func(tx kv.Tx) error {
		if err := tx.DeleteBucket([]byte(bktInline)); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint32(nil, 2))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	s, err := Open(dir, Options{InlineBodies: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var v uint32
	s.view(t.Context(), func(tx kv.Tx) error {
		v = binary.BigEndian.Uint32(tx.Bucket([]byte("meta")).Get([]byte("schema")))
		return nil
	})
	if v != SchemaVersion || SchemaVersion != 3 {
		t.Fatalf("schema after open %d (SchemaVersion %d), want 3", v, SchemaVersion)
	}
	d2 := deliver(t, s, smallMsg("new"), Target{MailboxID: a.MailboxID})
	if files := blobFiles(t, dir); len(files) != 1 {
		t.Fatalf("after a new small delivery: files %v, want the old one only", files)
	}
	if got, err := readAllMsg(t, s, d1[0].FolderID, d1[0].UID); err != nil || got != smallMsg("old") {
		t.Fatalf("old file body: %d bytes, %v", len(got), err)
	}
	if got, err := readAllMsg(t, s, d2[0].FolderID, d2[0].UID); err != nil || got != smallMsg("new") {
		t.Fatalf("new inline body: %d bytes, %v", len(got), err)
	}
	if _, err := s.Expunge(t.Context(), d1[0].FolderID, []uint32{d1[0].UID}, ""); err != nil {
		t.Fatal(err)
	}
	if files := blobFiles(t, dir); len(files) != 0 {
		t.Fatalf("old body file after its expunge: %v", files)
	}
}

// TestInlineTurnedOffStillReads: a data directory that kept small bodies
// in the database ([blobs] inline_small_bodies = true) and is opened with
// the option off again still reads them, and new bodies are files.
func TestInlineTurnedOffStillReads(t *testing.T) {
	dir := t.TempDir()
	in, err := Open(dir, Options{InlineBodies: true})
	if err != nil {
		t.Fatal(err)
	}
	in.AddDomain(t.Context(), Domain{Name: "example.com"})
	a, _ := in.AddUser(t.Context(), "alice@example.com", "", "h")
	d1 := deliver(t, in, smallMsg("inline"), Target{MailboxID: a.MailboxID})
	in.Close()
	if files := blobFiles(t, dir); len(files) != 0 {
		t.Fatalf("inline delivery left files %v", files)
	}
	s := openTest(t, dir)
	d2 := deliver(t, s, smallMsg("file"), Target{MailboxID: a.MailboxID})
	if files := blobFiles(t, dir); len(files) != 1 {
		t.Fatalf("delivery with inline off: files %v, want one", files)
	}
	for _, c := range []struct {
		d    []Delivered
		want string
	}{{d1, smallMsg("inline")}, {d2, smallMsg("file")}} {
		if got, err := readAllMsg(t, s, c.d[0].FolderID, c.d[0].UID); err != nil || got != c.want {
			t.Fatalf("body of %q: %q, %v", c.want, got, err)
		}
	}
}
