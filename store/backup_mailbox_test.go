package store

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"time"
)

func readAll(t *testing.T, s *Store, m *Message) []byte {
	t.Helper()
	rc, err := s.OpenMessage(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBackupFidelityAndIdempotence(t *testing.T) {
	s, clk := newClockStore(t)
	bob := mustUser(t, s, "bob@example.com")
	mustUser(t, s, "alice@example.com")
	info, _ := s.CreateShared(t.Context(), "info@example.com", "", "alice@example.com", "", 0)

	w, _ := s.NewBlob(t.Context(), 0)
	io.WriteString(w, testMsg)
	w.Sync()
	date := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	if _, err := s.Deliver(t.Context(), Delivery{Blob: w, Prefix: []byte("Received: by test\r\n"), InternalDate: date,
		Targets: []Target{{MailboxID: bob.MailboxID, Flags: []string{`\Seen`, `$Important`}}}}); err != nil {
		t.Fatal(err)
	}
	deliver(t, s, "Subject: draft\r\n\r\nd\r\n", Target{MailboxID: bob.MailboxID, Folder: "Drafts", Flags: []string{`\Draft`}})
	// Same body twice in one folder: both must be copied, once.
	inbox, _ := s.GetFolder(t.Context(), bob.MailboxID, "INBOX")
	if _, err := s.Copy(t.Context(), inbox.ID, []uint32{1}, inbox.ID, ""); err != nil {
		t.Fatal(err)
	}
	sub, _ := s.CreateFolder(t.Context(), bob.MailboxID, "Projects/X", "")
	deliver(t, s, "Subject: x\r\n\r\nx\r\n", Target{MailboxID: bob.MailboxID, Folder: sub.Name})
	srcBefore := folderMsgs(t, s, bob.MailboxID, "INBOX")

	if _, err := s.BackupMailbox(t.Context(), "bob@example.com", "bob@example.com", "admin"); err == nil {
		t.Fatal("backup into itself accepted")
	}
	if _, err := s.BackupMailbox(t.Context(), "ghost@example.com", "info@example.com", "admin"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown source: %v", err)
	}
	res, err := s.BackupMailbox(t.Context(), "bob@example.com", "info@example.com", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != 4 || res.Skipped != 0 || res.Folders != 7 {
		t.Fatalf("first run: %+v", res)
	}
	got := folderMsgs(t, s, info.ID, "Backup/bob@example.com/INBOX")
	if len(got) != 2 {
		t.Fatalf("INBOX copies: %d", len(got))
	}
	for i, m := range got {
		src := srcBefore[i]
		if !m.InternalDate.Equal(src.InternalDate) || !slices.Equal(m.Flags, src.Flags) || m.Size != src.Size {
			t.Fatalf("copy %d differs: %+v vs %+v", i, m, src)
		}
		if !bytes.Equal(readAll(t, s, &m), readAll(t, s, &src)) {
			t.Fatalf("copy %d bytes differ", i)
		}
	}
	if !got[0].InternalDate.Equal(date) || !slices.Equal(got[0].Flags, []string{`$Important`, `\Seen`}) {
		t.Fatalf("flags/date: %+v", got[0])
	}
	if d := folderMsgs(t, s, info.ID, "Backup/bob@example.com/Drafts"); len(d) != 1 || !slices.Equal(d[0].Flags, []string{`\Draft`}) {
		t.Fatalf("drafts: %+v", d)
	}
	if x := folderMsgs(t, s, info.ID, "Backup/bob@example.com/Projects/X"); len(x) != 1 {
		t.Fatalf("sub-folder: %+v", x)
	}

	// Re-run: nothing new. Then new mail: only it is copied.
	clk.Add(time.Hour)
	res, err = s.BackupMailbox(t.Context(), "bob@example.com", "info@example.com", "admin")
	if err != nil || res.Copied != 0 || res.Skipped != 4 {
		t.Fatalf("second run: %+v %v", res, err)
	}
	deliver(t, s, "Subject: new\r\n\r\nn\r\n", Target{MailboxID: bob.MailboxID})
	res, err = s.BackupMailbox(t.Context(), "bob@example.com", "info@example.com", "admin")
	if err != nil || res.Copied != 1 || res.Skipped != 4 {
		t.Fatalf("third run: %+v %v", res, err)
	}
	if n := len(folderMsgs(t, s, info.ID, "Backup/bob@example.com/INBOX")); n != 3 {
		t.Fatalf("after third run: %d", n)
	}
	// Source untouched.
	after := folderMsgs(t, s, bob.MailboxID, "INBOX")
	if len(after) != 3 || !slices.Equal(after[0].Flags, srcBefore[0].Flags) {
		t.Fatalf("source changed: %+v", after)
	}
	if log, _ := s.AuditLog(t.Context(), info.ID, time.Time{}); log[len(log)-1].Action != "backup" {
		t.Fatalf("audit: %+v", log)
	}
}

func TestBackupChunks(t *testing.T) {
	s, _ := newClockStore(t)
	bob := mustUser(t, s, "bob@example.com")
	alice := mustUser(t, s, "alice@example.com")
	n := backupChunk + 7
	for i := 0; i < n; i++ {
		deliver(t, s, "Subject: m\r\n\r\nx\r\n", Target{MailboxID: bob.MailboxID})
	}
	res, err := s.BackupMailbox(t.Context(), "bob@example.com", "alice@example.com", "admin")
	if err != nil || res.Copied != n {
		t.Fatalf("%+v %v", res, err)
	}
	f, _ := s.GetFolder(t.Context(), alice.MailboxID, "Backup/bob@example.com/INBOX")
	if int(f.Messages) != n {
		t.Fatalf("messages %d", f.Messages)
	}
	res, _ = s.BackupMailbox(t.Context(), "bob@example.com", "alice@example.com", "admin")
	if res.Copied != 0 || res.Skipped != n {
		t.Fatalf("rerun %+v", res)
	}
}
