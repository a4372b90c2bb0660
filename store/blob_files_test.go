package store_test

import (
	"testing"

	"mailsrv/store"
	"mailsrv/store/blobtest"
)

func TestFileBlobsConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) store.BlobStore {
		bs, err := store.NewFileBlobs(t.TempDir(), false)
		if err != nil {
			t.Fatal(err)
		}
		return bs
	}, blobtest.Options{})
}

// TestStoreOnFileBlobs runs the store's blob behaviour (delivery, seek,
// orphan sweep, snapshot, removal) over the files BlobStore, with small
// bodies in the database (Options.InlineBodies, blob_inline.go) and
// without (the default).
func TestStoreOnFileBlobs(t *testing.T) {
	for _, noInline := range []bool{false, true} {
		t.Run(map[bool]string{false: "inline", true: "files"}[noInline], func(t *testing.T) {
			blobtest.RunStore(t, func(t *testing.T, clk *blobtest.Clock) *store.Store {
				s, err := store.Open(t.TempDir(), store.Options{Now: clk.Now, InlineBodies: !noInline})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}
