package storage

import (
	"context"
	"strings"
	"testing"

	"mailsrv/server/config"
	"mailsrv/store"
)

// The default configuration opens bbolt in data_dir, with the configured
// default quota; a backend this build cannot open is a one-line error
// naming the key.
func TestOpen(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Limits.QuotaBytes = 1 << 20
	st, err := Open(context.Background(), cfg, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddDomain(t.Context(), store.Domain{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	if st.Dir() != cfg.DataDir || st.ServerID() == "" {
		t.Errorf("dir %q server id %q", st.Dir(), st.ServerID())
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// Close released the engine: it opens again.
	st, err = Open(context.Background(), cfg, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := st.Domains(t.Context()); err != nil || len(d) != 1 {
		t.Errorf("domains after reopen: %v %v", d, err)
	}
	st.Close()

	for _, tc := range []struct{ store, blobs, want string }{
		{"sqlite", "files", `store.backend "sqlite" is not one of bbolt, postgres`},
		{"bbolt", "nfs", `blobs.backend "nfs" is not one of files, s3`},
	} {
		c := *cfg
		c.Store.Backend, c.Blobs.Backend = tc.store, tc.blobs
		_, err := Open(context.Background(), &c, store.Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s/%s: %v, want one line with %q", tc.store, tc.blobs, err, tc.want)
		}
	}
}
