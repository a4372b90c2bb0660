package admin

import (
	"strings"
	"testing"
	"time"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// auditOf returns "action: detail" lines of a mailbox's audit log.
func auditOf(t *testing.T, h *Handler, mbid uint64) string {
	t.Helper()
	log, err := storeOf(h).AuditLog(t.Context(), mbid, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range log {
		lines = append(lines, e.Action+": "+e.Detail)
	}
	return strings.Join(lines, "\n")
}

// `mailbox reassign` does not silently hand the departed user's rights on
// shared mailboxes (or admin roles) to the new user: it lists and removes
// them, or passes them on with --keep-rights; both are audited (issue 14).
func TestReassignRightsAreExplicitAndAudited(t *testing.T) {
	for _, keep := range []bool{false, true} {
		h, _ := newSharedHandler(t)
		info, err := storeOf(h).CreateShared(t.Context(), "info@example.com", "Info", "alice@example.com", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := storeOf(h).Grant(t.Context(), info.ID, "bob@example.com", acl.Read|acl.SendOnBehalf, 0, "admin"); err != nil {
			t.Fatal(err)
		}
		if _, err := storeOf(h).GrantRole(t.Context(), "bob@example.com", store.RoleUsers, "admin"); err != nil {
			t.Fatal(err)
		}
		var res ReassignInfo
		mustDo(t, h, "mailbox.reassign", map[string]any{"address": "bob@example.com", "to": "carol@example.com", "keep_rights": keep}, &res)
		if len(res.Rights) != 1 || res.Rights[0].Mailbox != "info@example.com" || res.Rights[0].From != "bob@example.com" || res.Rights[0].Rights != "read,send-on-behalf" {
			t.Fatalf("keep=%v: rights %+v", keep, res.Rights)
		}
		r, _ := storeOf(h).RightsOf(t.Context(), info.ID, "carol@example.com")
		roles, _ := storeOf(h).RolesOf(t.Context(), "carol@example.com")
		log := auditOf(t, h, info.ID)
		if !keep {
			if r != 0 || len(roles) != 0 {
				t.Fatalf("carol got rights %v roles %v without --keep-rights", r, roles)
			}
			for _, want := range []string{
				"bob@example.com's rights read,send-on-behalf on info@example.com were removed, not passed on; if needed: `mailsrv shared grant info@example.com carol@example.com --rights read,send-on-behalf`",
				"admin role users of the departed user was removed; if needed: `mailsrv admin grant carol@example.com users`",
				"--keep-rights",
			} {
				if !strings.Contains(res.Message, want) {
					t.Errorf("message lacks %q:\n%s", want, res.Message)
				}
			}
			if !strings.Contains(log, "revoke: bob@example.com read,send-on-behalf (reassigned to carol@example.com; rights not passed on)") {
				t.Errorf("audit:\n%s", log)
			}
		} else {
			if r != acl.Read|acl.SendOnBehalf || len(roles) != 1 || roles[0] != store.RoleUsers {
				t.Fatalf("--keep-rights: carol has %v roles %v", r, roles)
			}
			if !strings.Contains(log, "grant: carol@example.com read,send-on-behalf (from bob@example.com, reassign --keep-rights)") {
				t.Errorf("audit:\n%s", log)
			}
			if srv := auditOf(t, h, store.ServerAuditID); !strings.Contains(srv, "admin grant (reassign --keep-rights): carol@example.com users") {
				t.Errorf("server audit:\n%s", srv)
			}
		}
		if srv := auditOf(t, h, store.ServerAuditID); !strings.Contains(srv, "admin revoke (reassign): bob@example.com users") {
			t.Errorf("server audit:\n%s", srv)
		}

		// Reassigning the shared mailbox itself: the previous owner's
		// rights are listed too.
		mustDo(t, h, "mailbox.reassign", map[string]any{"address": "info@example.com", "to": "carol@example.com", "keep_rights": keep}, &res)
		r, _ = storeOf(h).RightsOf(t.Context(), info.ID, "alice@example.com")
		if keep != (r == acl.All) || len(res.Rights) != 1 || res.Rights[0].From != "alice@example.com" {
			t.Errorf("keep=%v: previous owner rights %v, result %+v", keep, r, res.Rights)
		}

		// A backup of the shared mailbox is an audit entry.
		mustDo(t, h, "mailbox.backup", map[string]any{"source": "info@example.com", "to": "alice@example.com"}, nil)
		if log := auditOf(t, h, info.ID); !strings.Contains(log, "backup: copied to alice@example.com under Backup/info@example.com/") {
			t.Errorf("backup not audited:\n%s", log)
		}
	}
}
