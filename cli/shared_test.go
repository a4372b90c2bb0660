package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"mailsrv/server/admin"
)

// run executes one mailsrv command line offline against dataDir.
func run(t *testing.T, dataDir, stdin string, args ...string) (string, error) {
	t.Helper()
	g := &Globals{}
	root := &cobra.Command{Use: "mailsrv", SilenceUsage: true, SilenceErrors: true}
	root.PersistentFlags().StringVar(&g.DataDir, "data", "", "")
	root.AddCommand(Domain(g), User(g), Shared(g), Mailbox(g), Trash(g))
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append([]string{"--data", dataDir}, args...))
	err := root.Execute()
	return out.String(), err
}

func isOpError(err error) bool {
	var oe opError
	return errors.As(err, &oe)
}

func TestSharedCLIOffline(t *testing.T) {
	dir := t.TempDir()
	mustRun := func(stdin string, args ...string) string {
		t.Helper()
		out, err := run(t, dir, stdin, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}
	mustRun("", "domain", "add", "example.com")
	mustRun("secret-password\n", "user", "add", "alice@example.com", "--password-stdin")
	mustRun("secret-password\n", "user", "add", "bob@example.com", "--password-stdin")
	out := mustRun("mailbox-password\n", "shared", "create", "info@example.com", "--name", "Info", "--owner", "alice@example.com", "--password-stdin")
	if !strings.Contains(out, "shared mailbox info@example.com created") {
		t.Fatalf("create: %q", out)
	}
	mustRun("", "shared", "grant", "info@example.com", "bob@example.com", "--rights", "read,manage")

	var info admin.SharedInfo
	if err := json.Unmarshal([]byte(mustRun("", "shared", "show", "info@example.com", "--json")), &info); err != nil {
		t.Fatal(err)
	}
	if info.Owner != "alice@example.com" || !info.HasPassword || len(info.Members) != 1 || info.Members[0].Rights != "read,manage" {
		t.Fatalf("show: %+v", info)
	}
	if out := mustRun("", "shared", "list"); !strings.Contains(out, "info@example.com") || !strings.Contains(out, "yes") {
		t.Fatalf("list: %q", out)
	}

	// Operation failures are exit 1, usage errors exit 2.
	if _, err := run(t, dir, "", "shared", "revoke", "info@example.com", "alice@example.com"); err == nil || !isOpError(err) || !strings.Contains(err.Error(), "owner") {
		t.Fatalf("owner revoke: %v", err)
	}
	if _, err := run(t, dir, "", "shared", "grant", "info@example.com", "bob@example.com", "--rights", "read,admin"); err == nil || isOpError(err) {
		t.Fatalf("unknown right should be a usage error: %v", err)
	}
	if _, err := run(t, dir, "", "shared", "audit", "info@example.com", "--since", "lately"); err == nil || isOpError(err) {
		t.Fatalf("bad --since should be a usage error: %v", err)
	}
	if _, err := run(t, dir, "", "shared", "rename", "info@example.com", "bob@example.com"); err == nil || !isOpError(err) {
		t.Fatalf("rename onto a user: %v", err)
	}

	mustRun("", "shared", "rename", "info@example.com", "contact@example.com")
	if out := mustRun("", "shared", "audit", "contact@example.com", "--since", "1d"); !strings.Contains(out, "grant") || !strings.Contains(out, "rename") {
		t.Fatalf("audit: %q", out)
	}
	if out := mustRun("", "mailbox", "backup", "bob@example.com", "--to", "contact@example.com"); !strings.Contains(out, "Backup/bob@example.com/") {
		t.Fatalf("backup: %q", out)
	}
	mustRun("", "shared", "remove", "contact@example.com")
	var items []admin.TrashInfo
	if err := json.Unmarshal([]byte(mustRun("", "trash", "list", "--json")), &items); err != nil || len(items) != 1 {
		t.Fatalf("trash: %v %+v", err, items)
	}
	if _, err := run(t, dir, "", "trash", "restore", "abc"); err == nil || isOpError(err) {
		t.Fatalf("bad ID should be a usage error: %v", err)
	}
	mustRun("", "trash", "purge", "--older-than", "0")
	if out := mustRun("", "trash", "list"); strings.Contains(out, "contact@example.com") {
		t.Fatalf("not purged: %q", out)
	}
}
