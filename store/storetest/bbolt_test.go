package storetest_test

import (
	"testing"

	"mailsrv/store"
	"mailsrv/store/storetest"
)

// TestBbolt runs the conformance suite against the embedded bbolt store,
// with every body in a file (the default) and with small bodies in the
// database (Options.InlineBodies, [blobs] inline_small_bodies).
func TestBbolt(t *testing.T) {
	for _, noInline := range []bool{false, true} {
		t.Run(map[bool]string{false: "inline", true: "files"}[noInline], func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) storetest.Backend {
				s, err := store.Open(t.TempDir(), store.Options{InlineBodies: !noInline})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}
