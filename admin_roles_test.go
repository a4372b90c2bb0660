package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailsrv/server"
	"mailsrv/server/config"
	"mailsrv/store"
)

// `mailsrv admin grant|revoke|list` (SPEC §4), offline and over the
// socket, with its errors and audit entries.
func TestCLIAdminRoles(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	conf := testConfig(t, data)
	g := []string{"--config", conf}
	mustRun(t, "", append([]string{"domain", "add", "example.com"}, g...)...)
	mustRun(t, "correct horse battery\n", append([]string{"user", "add", "alice@example.com", "--password-stdin"}, g...)...)
	mustRun(t, "correct horse battery\n", append([]string{"user", "add", "bob@example.com", "--password-stdin"}, g...)...)

	if out := mustRun(t, "", append([]string{"admin", "list"}, g...)...); !strings.Contains(out, "no admin roles") {
		t.Fatalf("empty list: %s", out)
	}
	if out := mustRun(t, "", append([]string{"admin", "grant", "Alice@Example.com", "postmaster"}, g...)...); !strings.Contains(out, "alice@example.com now has role postmaster") {
		t.Fatalf("grant: %s", out)
	}
	if out := mustRun(t, "", append([]string{"admin", "grant", "alice@example.com", "postmaster"}, g...)...); !strings.Contains(out, "already has role postmaster") {
		t.Fatalf("grant twice: %s", out)
	}
	mustRun(t, "", append([]string{"admin", "grant", "alice@example.com", "users"}, g...)...)
	out, code := run(t, "", append([]string{"admin", "grant", "bob@example.com", "root"}, g...)...)
	if code != 1 || !strings.Contains(out, `unknown role "root": use one of postmaster, users, shared-mailboxes`) {
		t.Fatalf("unknown role: exit %d %s", code, out)
	}
	out, code = run(t, "", append([]string{"admin", "grant", "nobody@example.com", "users"}, g...)...)
	if code != 1 || !strings.Contains(out, "user nobody@example.com: not found (see `mailsrv user list`)") {
		t.Fatalf("unknown user: exit %d %s", code, out)
	}
	if _, code := run(t, "", append([]string{"admin", "grant", "bob@example.com"}, g...)...); code != 2 {
		t.Fatalf("missing role: exit %d", code)
	}
	out, code = run(t, "", append([]string{"admin", "revoke", "bob@example.com", "users"}, g...)...)
	if code != 1 || !strings.Contains(out, "bob@example.com holds no admin role") {
		t.Fatalf("revoke of nothing: exit %d %s", code, out)
	}

	// Online: the same commands go over the socket.
	cfg, err := config.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), cfg, server.NewLogger(cfg.Log, os.Stderr))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	waitForSocket(t, data)
	mustRun(t, "", append([]string{"admin", "grant", "bob@example.com", "shared-mailboxes"}, g...)...)
	var list []store.RoleGrant
	if err := json.Unmarshal([]byte(mustRun(t, "", append([]string{"admin", "list", "--json"}, g...)...)), &list); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range list {
		got = append(got, r.Address+" "+string(r.Role))
	}
	if strings.Join(got, ";") != "alice@example.com postmaster;alice@example.com users;bob@example.com shared-mailboxes" {
		t.Fatalf("list: %v", got)
	}
	out, code = run(t, "", append([]string{"admin", "revoke", "alice@example.com", "shared-mailboxes"}, g...)...)
	if code != 1 || !strings.Contains(out, "does not hold role shared-mailboxes (they hold postmaster, users)") {
		t.Fatalf("revoke of a role not held: exit %d %s", code, out)
	}
	if out := mustRun(t, "", append([]string{"admin", "revoke", "alice@example.com"}, g...)...); !strings.Contains(out, "no longer has role postmaster, users") {
		t.Fatalf("revoke all: %s", out)
	}
	st := srv.Store()
	if rs, _ := st.RolesOf(ctx, "alice@example.com"); len(rs) != 0 {
		t.Fatalf("alice still has %v", rs)
	}
	if hs, _ := st.RoleHolders(ctx, store.RoleSharedMailboxes); len(hs) != 1 || hs[0] != "bob@example.com" {
		t.Fatalf("holders: %v", hs)
	}
	// Removing a user drops their roles.
	mustRun(t, "", append([]string{"user", "remove", "bob@example.com"}, g...)...)
	if hs, _ := st.RoleHolders(ctx, store.RoleSharedMailboxes); len(hs) != 0 {
		t.Fatalf("removed user still holds: %v", hs)
	}
	log, err := st.AuditLog(ctx, store.ServerAuditID, st.Now().AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range log {
		lines = append(lines, e.Action+": "+e.Detail)
	}
	want := "admin grant: alice@example.com postmaster;admin grant: alice@example.com users;admin grant: bob@example.com shared-mailboxes;" +
		"admin revoke: alice@example.com postmaster;admin revoke: alice@example.com users;admin revoke (user removed): bob@example.com shared-mailboxes"
	if strings.Join(lines, ";") != want {
		t.Fatalf("audit:\n%s\nwant\n%s", strings.Join(lines, ";"), want)
	}
}
