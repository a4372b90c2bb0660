package server

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"mailsrv/server/admin"
	"mailsrv/store"
)

// Long operations report progress over the admin socket as interim lines
// before the answer (the CLI shows them on a terminal); a plain Call just
// gets the answer.
func TestBackupProgressOverSocket(t *testing.T) {
	s, cfg := testServer(t)
	adminDo(t, s, "domain.add", map[string]string{"name": "example.com"})
	a := addUser(t, s.Store(), "alice@example.com", "alice-password")
	for i := range 30 {
		w, err := s.Store().NewBlob(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		// Above 64 KiB: a body file each, which the backup counts (small
		// bodies travel inside the database file, store/blob_inline.go).
		fmt.Fprintf(w, "Subject: %d\r\n\r\nbody %s\r\n", i, strings.Repeat("x", 70<<10+i))
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Store().Deliver(t.Context(), store.Delivery{Blob: w, Targets: []store.Target{{MailboxID: a.MailboxID}}}); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "b.tar")
	raw, _ := json.Marshal(map[string]string{"out": out})
	var reports []admin.Progress
	resp, err := admin.CallProgress(cfg.DataDir, admin.Request{Op: "backup", Args: raw}, func(p admin.Progress) { reports = append(reports, p) })
	if err != nil || resp.Error != "" {
		t.Fatalf("backup: %v %s", err, resp.Error)
	}
	if len(reports) == 0 {
		t.Fatal("no progress reported")
	}
	if last := reports[len(reports)-1]; last.Op != "backup" || last.Done != 30 || last.Total != 30 || last.Unit != "message bodies" {
		t.Fatalf("last report %+v", last)
	}
	var res admin.BackupResult
	if err := json.Unmarshal(resp.Data, &res); err != nil || res.Blobs != 30 {
		t.Fatalf("result %+v %v", res, err)
	}
	// Without a progress function the interim lines are skipped.
	if resp, err := admin.Call(cfg.DataDir, admin.Request{Op: "backup", Args: raw}); err != nil || resp.Error != "" || resp.Progress != nil {
		t.Fatalf("plain call: %+v %v", resp, err)
	}
}
