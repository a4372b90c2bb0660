package kv_test

import (
	"path/filepath"
	"testing"

	"mailsrv/store/kv"
	"mailsrv/store/kv/kvtest"
)

// The bbolt adapter passes the conformance suite every engine must pass.
func TestBoltConformance(t *testing.T) {
	kvtest.Run(t, kvtest.Engine{Open: func(t *testing.T) kv.DB {
		db, err := kv.OpenBolt(filepath.Join(t.TempDir(), "kv.db"), kv.BoltOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}})
}
