package pgkv_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"mailsrv/internal/pgtest"
	"mailsrv/store/kv"
	"mailsrv/store/kv/kvtest"
	"mailsrv/store/kv/pgkv"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func open(t *testing.T, url string) *pgkv.DB {
	t.Helper()
	db, err := pgkv.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestConformance runs the kv conformance suite on PostgreSQL, with the
// second handle opened as a second server would.
func TestConformance(t *testing.T) {
	urls := map[kv.DB]string{}
	kvtest.Run(t, kvtest.Engine{
		Open: func(t *testing.T) kv.DB {
			url := pgtest.URL(t)
			db := open(t, url)
			urls[db] = url
			return db
		},
		Second: func(t *testing.T, db kv.DB) kv.DB { return open(t, urls[db]) },
	})
}

// terminate kills every backend that is LISTENing on url's database.
func terminate(t *testing.T, url string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`).Scan(&n)
	if err != nil || n == 0 {
		t.Fatalf("terminate the listener: %d backends, %v", n, err)
	}
}
