package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"mailsrv/internal/pgtest"
	"mailsrv/server/config"
	"mailsrv/server/storage"
	"mailsrv/store"
	"mailsrv/store/s3blobs/s3test"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func runMigrate(t *testing.T, dataDir string, args ...string) (string, error) {
	t.Helper()
	g := &Globals{}
	root := &cobra.Command{Use: "mailsrv", SilenceUsage: true, SilenceErrors: true}
	root.PersistentFlags().StringVar(&g.DataDir, "data", "", "")
	root.PersistentFlags().StringVar(&g.ConfigFile, "config", "", "")
	root.AddCommand(Migrate(g))
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"--data", dataDir}, args...))
	err := root.Execute()
	return out.String(), err
}

// `mailsrv migrate --to-config FILE` (SPEC §4) copies a bbolt data
// directory into the store FILE names, keeping UIDs; a second run into the
// now full target is refused. Targets: another bbolt directory, and
// PostgreSQL with an S3 bucket (each skipped, saying why, without its
// server).
func TestMigrateCLI(t *testing.T) {
	srcDir := t.TempDir()
	src, err := store.Open(srcDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.AddDomain(t.Context(), store.Domain{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	acct, err := src.AddUser(t.Context(), "alice@example.com", "Alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		w, _ := src.NewBlob(t.Context(), 0)
		fmt.Fprintf(w, "Subject: %d\r\n\r\nbody %d\r\n", i, i)
		w.Sync()
		if _, err := src.Deliver(t.Context(), store.Delivery{Blob: w, Targets: []store.Target{{MailboxID: acct.MailboxID}}}); err != nil {
			t.Fatal(err)
		}
	}
	in, _ := src.GetFolder(t.Context(), acct.MailboxID, "INBOX")
	src.Close()

	targets := map[string]func(t *testing.T) string{
		"bbolt": func(t *testing.T) string { return fmt.Sprintf("data_dir = %q\n", t.TempDir()) },
		"postgres+s3": func(t *testing.T) string {
			url := pgtest.URL(t)
			s3 := s3test.Start(t)
			return fmt.Sprintf("data_dir = %q\n[store]\nbackend = \"postgres\"\npostgres_url = %q\n[blobs]\nbackend = \"s3\"\ns3_endpoint = %q\ns3_bucket = \"mail\"\ns3_region = %q\ns3_access_key = %q\ns3_secret_key = %q\ns3_insecure = true\n",
				t.TempDir(), url, s3.Endpoint, s3.Region, s3.AccessKey, s3.SecretKey)
		},
	}
	for name, target := range targets {
		t.Run(name, func(t *testing.T) {
			body := target(t)
			file := filepath.Join(t.TempDir(), "target.toml")
			if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := runMigrate(t, srcDir, "migrate", "--to-config", file)
			if err != nil || !strings.Contains(out, "copied 1 accounts") || !strings.Contains(out, "3 messages") {
				t.Fatalf("migrate: %v\n%s", err, out)
			}
			out, err = runMigrate(t, srcDir, "migrate", "--to-config", file)
			if err == nil || !strings.Contains(err.Error(), "not empty") {
				t.Fatalf("second migrate into the same target: %v\n%s", err, out)
			}
			cfg, err := config.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			st, err := storage.Open(context.Background(), cfg, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			f, err := st.GetFolder(t.Context(), acct.MailboxID, "INBOX")
			if err != nil || f.UIDValidity != in.UIDValidity || f.UIDNext != in.UIDNext || f.Messages != 3 {
				t.Fatalf("INBOX in the target %+v %v, source %+v", f, err, in)
			}
			msgs, err := st.Messages(t.Context(), f.ID, []uint32{2})
			if err != nil || len(msgs) != 1 {
				t.Fatal(msgs, err)
			}
			rc, err := st.OpenMessage(t.Context(), &msgs[0])
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			b.ReadFrom(rc)
			rc.Close()
			if !strings.Contains(b.String(), "body 1") {
				t.Errorf("UID 2 in the target reads %q", b.String())
			}
		})
	}
}
