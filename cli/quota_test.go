package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"mailsrv/server/admin"
	"mailsrv/store"
)

func runQuota(t *testing.T, dataDir, configFile string, args ...string) (string, error) {
	t.Helper()
	g := &Globals{}
	root := &cobra.Command{Use: "mailsrv", SilenceUsage: true, SilenceErrors: true}
	root.PersistentFlags().StringVar(&g.DataDir, "data", "", "")
	root.PersistentFlags().StringVar(&g.ConfigFile, "config", "", "")
	root.AddCommand(Domain(g), User(g), Shared(g), Quota(g))
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader("secret-password\n"))
	a := []string{"--data", dataDir}
	if configFile != "" {
		a = append(a, "--config", configFile)
	}
	root.SetArgs(append(a, args...))
	err := root.Execute()
	return out.String(), err
}

// `mailsrv quota set|show [--json]` (SPEC §4): sizes with units, 0 =
// unlimited, the [limits] quota_bytes default, usage read back after the
// store was closed and opened again (a restart).
func TestQuotaCLI(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "mailsrv.toml")
	if err := os.WriteFile(cfg, []byte("[limits]\nquota_bytes = 1000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, err := runQuota(t, dir, cfg, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}
	show := func(addr string) admin.QuotaInfo {
		t.Helper()
		var q admin.QuotaInfo
		if err := json.Unmarshal([]byte(mustRun("quota", "show", addr, "--json")), &q); err != nil {
			t.Fatal(err)
		}
		return q
	}
	mustRun("domain", "add", "example.com")
	mustRun("user", "add", "alice@example.com", "--password-stdin")
	mustRun("shared", "create", "info@example.com", "--name", "Info", "--owner", "alice@example.com")

	// Mail stored, then the store closed: usage is read back after it.
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := st.MailboxByAddress(t.Context(), "alice@example.com")
	w, _ := st.NewBlob(t.Context(), 0)
	io.WriteString(w, "Subject: hi\r\n\r\nhello\r\n")
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Deliver(t.Context(), store.Delivery{Blob: w, Targets: []store.Target{{MailboxID: mb.ID}}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	q := show("alice@example.com")
	if q.Address != "alice@example.com" || q.Bytes != int64(len("Subject: hi\r\n\r\nhello\r\n")) || q.Messages != 1 || q.LimitBytes != 1000000 || !q.Default {
		t.Fatalf("show with the default: %+v", q)
	}
	if out := mustRun("quota", "set", "alice@example.com", "2GiB"); !strings.Contains(out, "2.0 GiB") {
		t.Fatalf("set: %q", out)
	}
	if q := show("alice@example.com"); q.LimitBytes != 2<<30 || q.Default || q.Messages != 1 {
		t.Fatalf("after set 2GiB: %+v", q)
	}
	mustRun("quota", "set", "info@example.com", "500MB", "--messages", "1000")
	if q := show("info@example.com"); q.LimitBytes != 500_000_000 || q.LimitMessages != 1000 || q.Messages != 0 {
		t.Fatalf("shared after set 500MB: %+v", q)
	}
	mustRun("quota", "set", "alice@example.com", "0")
	if q := show("alice@example.com"); q.LimitBytes != 0 || q.Default {
		t.Fatalf("after set 0: %+v", q)
	}
	if out := mustRun("quota", "show", "alice@example.com"); !strings.Contains(out, "unlimited") {
		t.Fatalf("text show: %q", out)
	}

	out, err := runQuota(t, dir, cfg, "quota", "set", "alice@example.com", "lots")
	if err == nil || isOpError(err) || !strings.Contains(err.Error(), "500MB") {
		t.Fatalf("bad size: want a usage error naming the form, got %v %q", err, out)
	}
	out, err = runQuota(t, dir, cfg, "quota", "show", "nobody@example.com")
	if err == nil || !isOpError(err) || !strings.Contains(err.Error(), "user list") {
		t.Fatalf("unknown address: %v %q", err, out)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1024": 1024, "500MB": 500e6, "2GiB": 2 << 30, "1.5G": 3 << 29, "10 kib": 10240, "7b": 7} {
		got, err := admin.ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "MB", "1XB", "1e30GB"} {
		if _, err := admin.ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}
