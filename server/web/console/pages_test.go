package console_test

import (
	"net/http"
	"strings"
	"testing"

	"mailsrv/store"
)

// queueOne puts a message for a remote recipient in the outbound queue.
func queueOne(t *testing.T, st *store.Store) {
	t.Helper()
	w, err := st.NewBlob(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("Subject: x\r\n\r\nbody\r\n"))
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Deliver(t.Context(), store.Delivery{Blob: w, Queue: &store.QueueItem{From: "bob@example.com", To: []string{"far@remote.example"}}}); err != nil {
		t.Fatal(err)
	}
}

// Every page renders for the postmaster with the data the store holds.
func TestPagesRenderRealData(t *testing.T) {
	f := newFixture(t)
	pm := f.login(t, "pm")
	queueOne(t, f.st)
	for _, c := range []struct {
		op   string
		args map[string]any
	}{
		{"shared.create", map[string]any{"address": "old@example.com", "name": "Old"}},
		{"shared.remove", map[string]any{"address": "old@example.com"}},
		{"alias.add", map[string]any{"address": "hello@example.com", "target": "bob@example.com"}},
		{"shared.grant", map[string]any{"address": "team@example.com", "member": "carol@example.com", "rights": "send"}},
	} {
		if st, body := pm.op(c.op, c.args); st != 200 {
			t.Fatalf("%s: %d %s", c.op, st, body)
		}
	}
	for path, want := range map[string][]string{
		"/admin/domains":                       {"example.com", "DNS records to publish", "_dmarc.example.com.", `data-verify="example.com"`},
		"/admin/users":                         {"bob@example.com", "carol@example.com", "hello@example.com", "Generate"},
		"/admin/shared":                        {"team@example.com", "sales@example.com", "owner@example.com", "Create a shared mailbox"},
		"/admin/shared/team@example.com":       {"Team", "owner@example.com", "bob@example.com", ">Read<", "carol@example.com", "Send as", "Rename", "Back up", "Reassign", "Custom"},
		"/admin/shared/team@example.com/audit": {"pm@example.com", "grant", "carol@example.com send"},
		"/admin/trash":                         {"old@example.com", "shared", "Restore", "Purge"},
		"/admin/queue":                         {"far@remote.example", "Retry", "Drop"},
		"/admin/admins":                        {"pm@example.com", "sm@example.com", "shared-mailboxes", "Grant a role"},
		"/mail/":                               {`id="accounts"`, "pm@example.com"},
	} {
		st, body := pm.get(path)
		if st != 200 {
			t.Errorf("%s: %d", path, st)
			continue
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, "style=") || strings.Contains(body, "onclick") {
			t.Errorf("%s has inline script or style", path)
		}
	}
	// The trash page counts the days left (30-day retention).
	if _, body := pm.get("/admin/trash"); !strings.Contains(body, ">30</td>") {
		t.Errorf("trash page lacks 30 days left")
	}
	// Login page and static assets.
	anon := f.client(t, f.httpURL)
	if st, body := anon.get("/"); st != 200 || !strings.Contains(body, `<label for="username">`) {
		t.Errorf("login page: %d", st)
	}
	for _, p := range []string{"/static/app.js", "/static/app.css"} {
		if st, _ := anon.get(p); st != 200 {
			t.Errorf("%s: %d", p, st)
		}
	}
	if st, _ := anon.get("/admin/users"); st != http.StatusSeeOther {
		t.Errorf("anonymous /admin/users: %d", st)
	}
}

// Each role sees its sections only; the others answer 403 even when
// typed in; an owner without a role sees their shared mailbox.
func TestPagesFollowRoles(t *testing.T) {
	f := newFixture(t)
	for user, c := range map[string]struct{ see, not []string }{
		"um":    {[]string{"/admin/users"}, []string{"/admin/domains", "/admin/shared", "/admin/trash", "/admin/queue", "/admin/admins"}},
		"sm":    {[]string{"/admin/shared", "/admin/trash", "/admin/shared/team@example.com"}, []string{"/admin/domains", "/admin/users", "/admin/queue", "/admin/admins"}},
		"owner": {[]string{"/admin/shared", "/admin/shared/team@example.com"}, []string{"/admin/users", "/admin/trash", "/admin/domains"}},
		"bob":   {nil, []string{"/admin/shared", "/admin/users", "/admin/domains", "/admin/shared/team@example.com"}},
	} {
		cl := f.login(t, user)
		for _, p := range c.see {
			if st, _ := cl.get(p); st != 200 {
				t.Errorf("%s %s: %d", user, p, st)
			}
		}
		for _, p := range c.not {
			if st, _ := cl.get(p); st != http.StatusForbidden {
				t.Errorf("%s %s: %d, want 403", user, p, st)
			}
		}
	}
	owner := f.login(t, "owner")
	_, body := owner.get("/admin/shared")
	if !strings.Contains(body, "team@example.com") || strings.Contains(body, "sales@example.com") || strings.Contains(body, "Create a shared mailbox") {
		t.Errorf("owner's shared list:\n%s", body)
	}
	_, body = owner.get("/admin/shared/team@example.com")
	if !strings.Contains(body, "Add a delegate") || strings.Contains(body, "Rename") || strings.Contains(body, "Remove shared mailbox") {
		t.Errorf("owner's shared page offers admin actions")
	}
	if st, b := owner.get("/admin/shared/sales@example.com"); st != http.StatusForbidden || !strings.Contains(b, "do not allow") {
		t.Errorf("owner opening another shared mailbox: %d", st)
	}
	if st, _ := f.login(t, "pm").get("/admin/shared/ghost@example.com"); st != http.StatusNotFound {
		t.Errorf("missing shared mailbox page: %d", st)
	}
	if st, _ := f.login(t, "bob").get("/admin/"); st != http.StatusSeeOther {
		t.Errorf("bob /admin/: %d", st)
	}
}

// HTML in names and addresses is shown as text everywhere.
func TestScriptInNamesIsEscaped(t *testing.T) {
	f := newFixture(t)
	pm := f.login(t, "pm")
	evil := `<script>alert("x")</script>`
	if st, body := pm.op("shared.create", map[string]any{"address": "evil@example.com", "name": evil}); st != 200 {
		t.Fatalf("create: %d %s", st, body)
	}
	if st, body := pm.op("user.add", map[string]any{"address": "eve@example.com", "name": `<img src=x onerror=alert(1)>`, "password": "long-enough-pw"}); st != 200 {
		t.Fatalf("user.add: %d %s", st, body)
	}
	// An address with markup is refused by the same validation as the CLI.
	st, body := pm.op("shared.create", map[string]any{"address": `<b>x</b>@example.com`})
	if st < 400 || errorOf(body) == "" {
		t.Fatalf("markup address accepted: %d %s", st, body)
	}
	for _, p := range []string{"/admin/shared", "/admin/shared/evil@example.com", "/admin/users"} {
		_, page := pm.get(p)
		if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") {
			t.Errorf("%s: markup not escaped", p)
		}
		if p != "/admin/users" && !strings.Contains(page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
			t.Errorf("%s: escaped name missing", p)
		}
	}
}
