package benchkit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailsrv/store"
)

// OpenConfig opens the store a mailsrv configuration file names, with its
// data_dir, as serve does; a second open sees what the first wrote, and a
// configuration storage.Open refuses is an error, not a default store.
func TestOpenConfigUsesTheFile(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "mailsrv.toml")
	if err := os.WriteFile(cfg, []byte("data_dir = \""+data+"\"\n[store]\nbackend = \"bbolt\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := OpenConfig(cfg, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddDomain(t.Context(), store.Domain{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := os.Stat(filepath.Join(data, store.DBFile)); err != nil {
		t.Fatalf("the store is not in the configured data_dir: %v", err)
	}
	st, err = OpenConfig(cfg, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.AddDomain(t.Context(), store.Domain{Name: "example.com"}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("reopened store: AddDomain = %v, want ErrExists", err)
	}

	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("data_dir = \""+data+"\"\n[store]\nbackend = \"postgres\"\n"), 0o600)
	if _, err := OpenConfig(bad, store.Options{}); err == nil || !strings.Contains(err.Error(), "postgres_url") {
		t.Fatalf("postgres without postgres_url: err = %v, want one naming store.postgres_url", err)
	}
}
