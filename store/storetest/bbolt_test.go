package storetest_test

import (
	"testing"

	"mailsrv/store"
	"mailsrv/store/storetest"
)

// TestBbolt runs the conformance suite against the embedded bbolt store,
// with small bodies in the database (the default) and with every body in
// a file (Options.NoInlineBodies, the layout before schema 3).
func TestBbolt(t *testing.T) {
	for _, noInline := range []bool{false, true} {
		t.Run(map[bool]string{false: "inline", true: "files"}[noInline], func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) storetest.Backend {
				s, err := store.Open(t.TempDir(), store.Options{NoInlineBodies: noInline})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}
