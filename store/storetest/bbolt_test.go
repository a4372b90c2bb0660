package storetest_test

import (
	"testing"

	"mailsrv/store"
	"mailsrv/store/storetest"
)

// TestBbolt runs the conformance suite against the embedded bbolt store.
func TestBbolt(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		s, err := store.Open(t.TempDir(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
