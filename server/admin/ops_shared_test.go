package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"mailsrv/auth/acl"
	"mailsrv/internal/testkit"
	"mailsrv/server/config"
	"mailsrv/store"
)

func newSharedHandler(t *testing.T) (*Handler, *testkit.Clock) {
	t.Helper()
	clk := testkit.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	st, err := store.Open(t.TempDir(), store.Options{Now: clk.Now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.AddDomain(t.Context(), store.Domain{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		if _, err := st.AddUser(t.Context(), u+"@example.com", "", "x"); err != nil {
			t.Fatal(err)
		}
	}
	return &Handler{Store: st, Config: config.Default(), Now: clk.Now}, clk
}

// do runs op and decodes its result into out (may be nil); it returns the
// operation's error text ("" on success).
func do(t *testing.T, h *Handler, opName string, args any, out any) string {
	t.Helper()
	raw, _ := json.Marshal(args)
	resp := h.Handle(context.Background(), Request{Op: opName, Args: raw})
	if resp.Error == "" && out != nil {
		if err := json.Unmarshal(resp.Data, out); err != nil {
			t.Fatalf("%s: decode: %v", opName, err)
		}
	}
	return resp.Error
}

func mustDo(t *testing.T, h *Handler, opName string, args any, out any) {
	t.Helper()
	if e := do(t, h, opName, args, out); e != "" {
		t.Fatalf("%s %v: %s", opName, args, e)
	}
}

func wantErr(t *testing.T, h *Handler, opName string, args any, contains string) {
	t.Helper()
	e := do(t, h, opName, args, nil)
	if e == "" || !strings.Contains(e, contains) {
		t.Fatalf("%s %v: error %q, want one containing %q", opName, args, e, contains)
	}
}

func TestSharedCreateErrors(t *testing.T) {
	h, _ := newSharedHandler(t)
	var d Done
	mustDo(t, h, "shared.create", map[string]any{"address": "info@example.com", "name": "Info", "owner": "alice@example.com", "password": "correct horse"}, &d)
	if !strings.Contains(d.Message, "info@example.com") {
		t.Fatalf("message %q", d.Message)
	}
	wantErr(t, h, "shared.create", map[string]any{"address": "info@example.com"}, "already used by a shared mailbox")
	wantErr(t, h, "shared.create", map[string]any{"address": "bob@example.com"}, "already used by a user")
	wantErr(t, h, "shared.create", map[string]any{"address": "x@other.org"}, "not a local domain")
	wantErr(t, h, "shared.create", map[string]any{"address": "y@example.com", "owner": "ghost@example.com"}, "not a local user")
	wantErr(t, h, "shared.create", map[string]any{"address": "y@example.com", "password": "short"}, "password too short")

	h.Config.Limits.SharedMailboxesPerDomain = 2
	mustDo(t, h, "shared.create", map[string]any{"address": "sales@example.com"}, nil)
	wantErr(t, h, "shared.create", map[string]any{"address": "third@example.com"}, "limits.shared_mailboxes_per_domain = 2")

	var info SharedInfo
	mustDo(t, h, "shared.show", map[string]any{"address": "INFO@example.com"}, &info)
	if info.Address != "info@example.com" || info.Owner != "alice@example.com" || !info.HasPassword || info.Name != "Info" {
		t.Fatalf("show: %+v", info)
	}
	var list []SharedInfo
	mustDo(t, h, "shared.list", nil, &list)
	if len(list) != 2 || list[1].HasPassword {
		t.Fatalf("list: %+v", list)
	}
	wantErr(t, h, "shared.show", map[string]any{"address": "bob@example.com"}, "personal mailbox")
}

func TestSharedGrantRevoke(t *testing.T) {
	h, _ := newSharedHandler(t)
	mustDo(t, h, "shared.create", map[string]any{"address": "info@example.com", "owner": "alice@example.com"}, nil)
	mb, _ := storeOf(h).MailboxByAddress(t.Context(), "info@example.com")

	wantErr(t, h, "shared.grant", map[string]any{"address": "info@example.com", "member": "ghost@example.com", "rights": "read"}, "not a local user")
	wantErr(t, h, "shared.grant", map[string]any{"address": "info@example.com", "member": "bob@example.com", "rights": "read,fly"}, `unknown right "fly"`)
	wantErr(t, h, "shared.grant", map[string]any{"address": "info@example.com", "member": "bob@example.com", "rights": ""}, "empty rights")
	wantErr(t, h, "shared.grant", map[string]any{"address": "nope@example.com", "member": "bob@example.com", "rights": "read"}, "no shared mailbox")
	wantErr(t, h, "shared.grant", map[string]any{"address": "info@example.com", "member": "alice@example.com", "rights": "read"}, "already has every right")

	mustDo(t, h, "shared.grant", map[string]any{"address": "info@example.com", "member": "bob@example.com", "rights": "read,manage"}, nil)
	// Effective at once for sessions that ask per command.
	if r, _ := storeOf(h).RightsOf(t.Context(), mb.ID, "bob@example.com"); r != acl.Read|acl.Manage {
		t.Fatalf("rights after grant: %v", r)
	}
	if sf, _ := storeOf(h).SharedFor(t.Context(), "bob@example.com"); len(sf) != 1 {
		t.Fatalf("SharedFor after grant: %+v", sf)
	}
	// Re-grant replaces (no duplicate member).
	mustDo(t, h, "shared.grant", map[string]any{"address": "info@example.com", "member": "bob@example.com", "rights": "send"}, nil)
	var info SharedInfo
	mustDo(t, h, "shared.show", map[string]any{"address": "info@example.com"}, &info)
	if len(info.Members) != 1 || info.Members[0] != (MemberInfo{"bob@example.com", "send"}) {
		t.Fatalf("members: %+v", info.Members)
	}

	wantErr(t, h, "shared.revoke", map[string]any{"address": "info@example.com", "member": "alice@example.com"}, "owner")
	wantErr(t, h, "shared.revoke", map[string]any{"address": "info@example.com", "member": "carol@example.com"}, "not a member")
	mustDo(t, h, "shared.revoke", map[string]any{"address": "info@example.com", "member": "bob@example.com"}, nil)
	if r, _ := storeOf(h).RightsOf(t.Context(), mb.ID, "bob@example.com"); r != 0 {
		t.Fatalf("rights after revoke: %v", r)
	}
	if sf, _ := storeOf(h).SharedFor(t.Context(), "bob@example.com"); len(sf) != 0 {
		t.Fatalf("SharedFor after revoke: %+v", sf)
	}

	var log []AuditInfo
	mustDo(t, h, "shared.audit", map[string]any{"address": "info@example.com"}, &log)
	var actions []string
	for _, e := range log {
		actions = append(actions, e.Action)
	}
	if strings.Join(actions, " ") != "create grant grant revoke" {
		t.Fatalf("audit: %v", actions)
	}
}

func TestSharedMemberLimit(t *testing.T) {
	h, _ := newSharedHandler(t)
	mustDo(t, h, "shared.create", map[string]any{"address": "big@example.com"}, nil)
	limit := h.Config.Limits.SharedMailboxMembers
	if limit != 200 {
		t.Fatalf("default limit %d", limit)
	}
	for i := 0; i <= limit; i++ {
		if _, err := storeOf(h).AddUser(t.Context(), fmt.Sprintf("u%d@example.com", i), "", "x"); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < limit; i++ {
		mustDo(t, h, "shared.grant", map[string]any{"address": "big@example.com", "member": fmt.Sprintf("u%d@example.com", i), "rights": "read"}, nil)
	}
	wantErr(t, h, "shared.grant", map[string]any{"address": "big@example.com", "member": fmt.Sprintf("u%d@example.com", limit), "rights": "read"},
		"limits.shared_mailbox_members = 200")
	// Changing an existing member's rights at the limit is fine.
	mustDo(t, h, "shared.grant", map[string]any{"address": "big@example.com", "member": "u0@example.com", "rights": "read,manage"}, nil)
}

func TestSharedRenameRemoveAudit(t *testing.T) {
	h, clk := newSharedHandler(t)
	mustDo(t, h, "shared.create", map[string]any{"address": "info@example.com", "owner": "alice@example.com"}, nil)
	mustDo(t, h, "shared.create", map[string]any{"address": "sales@example.com"}, nil)
	wantErr(t, h, "shared.rename", map[string]any{"address": "info@example.com", "new_address": "sales@example.com"}, "already used")
	wantErr(t, h, "shared.rename", map[string]any{"address": "info@example.com", "new_address": "bob@example.com"}, "already used by a user")
	wantErr(t, h, "shared.rename", map[string]any{"address": "info@example.com"}, "nothing to change")

	clk.Add(48 * time.Hour)
	var d Done
	mustDo(t, h, "shared.rename", map[string]any{"address": "info@example.com", "new_address": "contact@example.com", "name": "Contact"}, &d)
	if !strings.Contains(d.Message, "alias") {
		t.Fatalf("rename message %q", d.Message)
	}
	if ids, err := storeOf(h).Resolve(t.Context(), "info@example.com"); err != nil || len(ids) != 1 {
		t.Fatalf("old address: %v %v", ids, err)
	}
	if sf, _ := storeOf(h).SharedFor(t.Context(), "alice@example.com"); len(sf) != 1 || sf[0].Mailbox.Address != "contact@example.com" {
		t.Fatalf("SharedFor: %+v", sf)
	}
	var log []AuditInfo
	mustDo(t, h, "shared.audit", map[string]any{"address": "contact@example.com", "since": "1d"}, &log)
	if len(log) != 1 || log[0].Action != "rename" {
		t.Fatalf("audit since 1d: %+v", log)
	}
	wantErr(t, h, "shared.audit", map[string]any{"address": "contact@example.com", "since": "yesterday"}, "invalid duration")

	mustDo(t, h, "shared.remove", map[string]any{"address": "contact@example.com"}, &d)
	wantErr(t, h, "shared.show", map[string]any{"address": "contact@example.com"}, "no shared mailbox")
	var items []TrashInfo
	mustDo(t, h, "trash.list", nil, &items)
	if len(items) != 1 || items[0].Kind != "shared" || !items[0].PurgeAfter.Equal(items[0].DeletedAt.Add(30*24*time.Hour)) {
		t.Fatalf("trash: %+v", items)
	}
	mustDo(t, h, "trash.restore", map[string]any{"id": items[0].ID}, nil)
	mustDo(t, h, "shared.show", map[string]any{"address": "contact@example.com"}, nil)
}

func TestSharedFromUser(t *testing.T) {
	h, _ := newSharedHandler(t)
	acct, _ := storeOf(h).User(t.Context(), "carol@example.com")
	deliverTo(t, storeOf(h), acct.MailboxID, "Subject: old\r\n\r\nx\r\n")
	mustDo(t, h, "shared.create", map[string]any{"address": "carol@example.com", "from_user": true, "owner": "alice@example.com"}, nil)
	var info SharedInfo
	mustDo(t, h, "shared.show", map[string]any{"address": "carol@example.com"}, &info)
	if info.Messages != 1 || info.Owner != "alice@example.com" || info.HasPassword {
		t.Fatalf("converted: %+v", info)
	}
	wantErr(t, h, "shared.create", map[string]any{"address": "ghost@example.com", "from_user": true}, "not found")
}

func deliverTo(t *testing.T, st *store.Store, mbid uint64, msg string) []store.Delivered {
	t.Helper()
	w, err := st.NewBlob(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(msg))
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	d, err := st.Deliver(t.Context(), store.Delivery{Blob: w, Targets: []store.Target{{MailboxID: mbid}}})
	if err != nil {
		w.Abort()
		t.Fatal(err)
	}
	return d
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "1.5d": 36 * time.Hour, "90m": 90 * time.Minute, "0": 0, " 2h ": 2 * time.Hour} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "-2h", "xd", "30 days", "NaNd"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}
