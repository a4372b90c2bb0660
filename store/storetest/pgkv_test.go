package storetest_test

import (
	"context"
	"os"
	"testing"

	"mailsrv/internal/pgtest"
	"mailsrv/store"
	"mailsrv/store/kv/pgkv"
	"mailsrv/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestPostgres runs the conformance suite against a store on PostgreSQL
// (store/kv/pgkv); it skips, saying why, when PostgreSQL is not installed.
func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		db, err := pgkv.Open(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		s, err := store.OpenEngine(db, t.TempDir(), store.Options{CloseEngine: true})
		if err != nil {
			db.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
