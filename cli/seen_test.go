package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"mailsrv/server/admin"
)

// `shared create --seen per-member`, `shared set --seen`, `shared show`
// and the audit of each switch (SPEC §4).
func TestSharedSeenModeCLI(t *testing.T) {
	dir := t.TempDir()
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := run(t, dir, "", args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}
	mustRun("domain", "add", "example.com")
	mustRun("shared", "create", "team@example.com", "--seen", "per-member")
	mustRun("shared", "create", "info@example.com")
	show := func(addr string) admin.SharedInfo {
		var info admin.SharedInfo
		if err := json.Unmarshal([]byte(mustRun("shared", "show", addr, "--json")), &info); err != nil {
			t.Fatal(err)
		}
		return info
	}
	if s, i := show("team@example.com").Seen, show("info@example.com").Seen; s != "per-member" || i != "shared" {
		t.Fatalf("seen modes: team %q, info %q", s, i)
	}
	if out := mustRun("shared", "set", "info@example.com", "--seen", "per-member"); !strings.Contains(out, "per-member") {
		t.Errorf("set: %q", out)
	}
	mustRun("shared", "set", "info@example.com", "--seen", "shared")
	if out := mustRun("shared", "show", "info@example.com"); !strings.Contains(out, "seen:      shared") {
		t.Errorf("show: %q", out)
	}
	if out := mustRun("shared", "audit", "info@example.com"); strings.Count(out, "seen mode") != 2 {
		t.Errorf("audit: %q", out)
	}
	if _, err := run(t, dir, "", "shared", "set", "info@example.com", "--seen", "private"); err == nil {
		t.Error("--seen private accepted")
	}
	if _, err := run(t, dir, "", "shared", "create", "x@example.com", "--seen", "nope"); err == nil {
		t.Error("create --seen nope accepted")
	}
}
