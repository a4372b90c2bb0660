package store

import (
	"context"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mailsrv/store/kv"
)

// CopyTo (`mailsrv migrate`) carries a store into an empty engine and blob
// store with every UID, UIDVALIDITY, MODSEQ, flag, body, queue item and
// audit entry unchanged; the copy then allocates the next UIDs and ids
// after the source's, and a second copy into the same target is refused.
func TestCopyToKeepsEverything(t *testing.T) {
	ctx := context.Background()
	src := newFileTestStore(t)
	acct, err := src.AddUser(ctx, "bob@example.com", "Bob", "pw")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		deliver(t, src, "Subject: m"+string(rune('0'+i))+"\r\n\r\nbody "+string(rune('0'+i))+"\r\n", Target{MailboxID: acct.MailboxID})
	}
	in, err := src.GetFolder(ctx, acct.MailboxID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.StoreFlags(ctx, in.ID, []uint32{2, 4}, FlagsAdd, []string{`\Seen`, "$Label1"}, "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Expunge(ctx, in.ID, []uint32{1}, "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	w, _ := src.NewBlob(ctx, 0)
	io.WriteString(w, "Subject: out\r\n\r\nqueued\r\n")
	w.Sync()
	if _, err := src.Deliver(ctx, Delivery{Blob: w, Queue: &QueueItem{From: "bob@example.com", To: []string{"x@remote.test"}}}); err != nil {
		t.Fatal(err)
	}
	if err := src.AuditAction(ctx, acct.MailboxID, AuditEntry{Actor: "bob@example.com", Action: "test"}); err != nil {
		t.Fatal(err)
	}

	if in, err = src.GetFolder(ctx, acct.MailboxID, "INBOX"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dst, err := kv.OpenBolt(filepath.Join(dir, DBFile), kv.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	dstBlobs, err := NewFileBlobs(filepath.Join(dir, "blobs"), false)
	if err != nil {
		t.Fatal(err)
	}
	st, err := src.CopyTo(ctx, dst, dstBlobs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Accounts != 1 || st.Messages != 4 || st.Queue != 1 || st.Blobs != 5 || st.Audit == 0 {
		t.Errorf("copy stats %+v", st)
	}
	if _, err := src.CopyTo(ctx, dst, dstBlobs, nil); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("second copy into the same target: %v", err)
	}

	cp, err := OpenEngine(dst, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	in2, err := cp.GetFolder(ctx, acct.MailboxID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if in2.ID != in.ID || in2.UIDValidity != in.UIDValidity || in2.UIDNext != in.UIDNext || in2.HighestModSeq != in.HighestModSeq {
		t.Errorf("folder after copy %+v, want %+v", in2, in)
	}
	want, _ := src.FolderFlags(ctx, in.ID)
	got, err := cp.FolderFlags(ctx, in2.ID)
	if err != nil || !slices.EqualFunc(got, want, func(a, b UIDFlags) bool { return a.UID == b.UID && slices.Equal(a.Flags, b.Flags) }) {
		t.Errorf("flags after copy %v (%v), want %v", got, err, want)
	}
	msgs, err := cp.Messages(ctx, in2.ID, []uint32{3})
	if err != nil || len(msgs) != 1 {
		t.Fatal(msgs, err)
	}
	rc, err := cp.OpenMessage(ctx, &msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(body), "body 2") {
		t.Errorf("body of UID 3 after copy: %q", body)
	}
	if q, err := cp.Queue(ctx); err != nil || len(q) != 1 || q[0].To[0] != "x@remote.test" {
		t.Errorf("queue after copy %+v %v", q, err)
	}
	if a, err := cp.AuditLog(ctx, acct.MailboxID, in.Created); err != nil || len(a) == 0 {
		t.Errorf("audit after copy %v %v", a, err)
	}
	d := deliver(t, cp, "Subject: new\r\n\r\nnew\r\n", Target{MailboxID: acct.MailboxID})
	if d[0].UID != in.UIDNext {
		t.Errorf("first delivery after the copy got UID %d, want %d", d[0].UID, in.UIDNext)
	}
	acct2, err := cp.AddUser(ctx, "carol@example.com", "Carol", "pw")
	if err != nil || acct2.MailboxID <= acct.MailboxID {
		t.Errorf("new mailbox id %v after copy (%v), source had %d", acct2, err, acct.MailboxID)
	}
}
