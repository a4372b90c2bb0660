package admin

import (
	"strings"
	"testing"
	"time"
)

func TestMailboxBackupOp(t *testing.T) {
	h, _ := newSharedHandler(t)
	bob, _ := storeOf(h).User(t.Context(), "bob@example.com")
	deliverTo(t, storeOf(h), bob.MailboxID, "Subject: a\r\n\r\na\r\n")
	deliverTo(t, storeOf(h), bob.MailboxID, "Subject: b\r\n\r\nb\r\n")
	mustDo(t, h, "shared.create", map[string]any{"address": "info@example.com"}, nil)

	var res BackupInfo
	mustDo(t, h, "mailbox.backup", map[string]any{"source": "bob@example.com", "to": "info@example.com"}, &res)
	if res.Copied != 2 || !strings.Contains(res.Message, "Backup/bob@example.com/") {
		t.Fatalf("first: %+v", res)
	}
	mustDo(t, h, "mailbox.backup", map[string]any{"source": "bob@example.com", "to": "info@example.com"}, &res)
	if res.Copied != 0 || res.Skipped != 2 {
		t.Fatalf("re-run: %+v", res)
	}
	var info SharedInfo
	mustDo(t, h, "shared.show", map[string]any{"address": "info@example.com"}, &info)
	if info.Messages != 2 {
		t.Fatalf("shared holds %d messages", info.Messages)
	}
	wantErr(t, h, "mailbox.backup", map[string]any{"source": "ghost@example.com", "to": "info@example.com"}, "not found")
	wantErr(t, h, "mailbox.backup", map[string]any{"source": "bob@example.com", "to": "bob@example.com"}, "into itself")
}

func TestReassignTrashRestorePurge(t *testing.T) {
	h, clk := newSharedHandler(t)
	bob, _ := storeOf(h).User(t.Context(), "bob@example.com")
	carol, _ := storeOf(h).User(t.Context(), "carol@example.com")
	deliverTo(t, storeOf(h), bob.MailboxID, "Subject: bob's history\r\n\r\nx\r\n")
	deliverTo(t, storeOf(h), carol.MailboxID, "Subject: carol's old\r\n\r\ny\r\n")

	wantErr(t, h, "mailbox.reassign", map[string]any{"address": "bob@example.com", "to": "ghost@example.com"}, "not a local user")
	wantErr(t, h, "mailbox.reassign", map[string]any{"address": "nobody@example.com", "to": "carol@example.com"}, "not found")
	var d Done
	mustDo(t, h, "mailbox.reassign", map[string]any{"address": "bob@example.com", "to": "carol@example.com"}, &d)
	if !strings.Contains(d.Message, "alias") || !strings.Contains(d.Message, "30 days") {
		t.Fatalf("message %q", d.Message)
	}
	var users []UserInfo
	mustDo(t, h, "user.list", nil, &users)
	for _, u := range users {
		if u.Address == "bob@example.com" {
			t.Fatal("bob still a user")
		}
		if u.Address == "carol@example.com" && u.Messages != 1 {
			t.Fatalf("carol's mailbox: %+v", u)
		}
	}
	var items []TrashInfo
	mustDo(t, h, "trash.list", nil, &items)
	if len(items) != 1 || items[0].Kind != "mailbox" || items[0].Messages != 1 || items[0].Address != "carol@example.com" {
		t.Fatalf("trash: %+v", items)
	}
	mustDo(t, h, "trash.restore", map[string]any{"id": items[0].ID}, &d)
	c, _ := storeOf(h).User(t.Context(), "carol@example.com")
	if rf, err := storeOf(h).GetFolder(t.Context(), c.MailboxID, "Restored/INBOX"); err != nil || rf.Messages != 1 {
		t.Fatalf("restored folder: %+v %v", rf, err)
	}
	wantErr(t, h, "trash.restore", map[string]any{"id": items[0].ID}, "not found")

	// user remove → trash; purge honours the retention via the clock.
	mustDo(t, h, "user.remove", map[string]any{"address": "alice@example.com"}, nil)
	clk.Add(10 * 24 * time.Hour)
	mustDo(t, h, "user.remove", map[string]any{"address": "carol@example.com"}, nil)
	mustDo(t, h, "trash.purge", nil, &d)
	if d.Message != "nothing to purge" {
		t.Fatalf("purged early: %q", d.Message)
	}
	clk.Add(21 * 24 * time.Hour) // alice: 31 days, carol: 21 days
	mustDo(t, h, "trash.purge", nil, &d)
	mustDo(t, h, "trash.list", nil, &items)
	if len(items) != 1 || items[0].Address != "carol@example.com" || !strings.Contains(d.Message, "alice@example.com") {
		t.Fatalf("after retention purge: %q %+v", d.Message, items)
	}
	wantErr(t, h, "trash.purge", map[string]any{"older_than": "soon"}, "invalid duration")
	mustDo(t, h, "trash.purge", map[string]any{"older_than": "20d"}, nil)
	mustDo(t, h, "trash.list", nil, &items)
	if len(items) != 0 {
		t.Fatalf("after --older-than 20d: %+v", items)
	}
	wantErr(t, h, "trash.purge", map[string]any{"id": 77}, "not found")
}
