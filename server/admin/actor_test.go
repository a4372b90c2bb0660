package admin

import (
	"context"
	"encoding/json"
	"testing"
)

// An operation run for a named administrator (the web console) audits
// that address; without one (the CLI) the actor is "admin".
func TestAuditNamesTheActor(t *testing.T) {
	h, _ := newSharedHandler(t)
	mustDo(t, h, "shared.create", map[string]any{"address": "info@example.com"}, nil)
	mustDo(t, h, "shared.grant", map[string]any{"address": "info@example.com", "member": "bob@example.com", "rights": "read"}, nil)
	raw, _ := json.Marshal(map[string]any{"address": "info@example.com", "member": "carol@example.com", "rights": "read"})
	ctx := WithActor(context.Background(), "alice@example.com")
	if resp := h.Handle(ctx, Request{Op: "shared.grant", Args: raw}); resp.Error != "" {
		t.Fatal(resp.Error)
	}
	var log []AuditInfo
	mustDo(t, h, "shared.audit", map[string]any{"address": "info@example.com"}, &log)
	if len(log) != 3 || log[1].Actor != "admin" || log[2].Actor != "alice@example.com" {
		t.Fatalf("audit: %+v", log)
	}
}
