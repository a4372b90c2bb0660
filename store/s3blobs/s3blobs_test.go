package s3blobs_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"mailsrv/store"
	"mailsrv/store/blobtest"
	"mailsrv/store/s3blobs"
	"mailsrv/store/s3blobs/s3test"
)

// newBucket opens a fresh bucket on srv (Open creates it).
func newBucket(t *testing.T, srv *s3test.Server) *s3blobs.Blobs {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	cfg := srv.Config("test-" + hex.EncodeToString(b[:]))
	cfg.PartSize = 5 << 20
	bs, err := s3blobs.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

// TestS3Conformance runs the blob store suite against a real S3 server
// (versitygw on 127.0.0.1) through minio-go: a 20 MiB body goes up as
// four 5 MiB parts, an interrupted multipart upload is listed and removed.
func TestS3Conformance(t *testing.T) {
	srv := s3test.Start(t)
	blobtest.Run(t, func(t *testing.T) store.BlobStore { return newBucket(t, srv) }, blobtest.Options{PartSize: 5 << 20})
}

func TestEndpoints(t *testing.T) {
	for _, c := range []struct {
		endpoint string
		insecure bool
		err      string // "" = accepted up to the network
	}{
		{"http://127.0.0.1:1", false, "plain http"},
		{"http://s3.example.com", false, "s3_insecure = true"},
		{"", false, "s3_endpoint is empty"},
		{"https://s3.example.com/bucket", false, "has a path"},
		{"ftp://s3.example.com", false, "neither https nor http"},
	} {
		_, err := s3blobs.Open(context.Background(), s3blobs.Config{Endpoint: c.endpoint, Insecure: c.insecure, Bucket: "b"})
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("endpoint %q insecure=%v: %v, want an error containing %q", c.endpoint, c.insecure, err, c.err)
		}
	}
	if _, err := s3blobs.Open(context.Background(), s3blobs.Config{Endpoint: "https://s3.example.com"}); err == nil || !strings.Contains(err.Error(), "s3_bucket") {
		t.Errorf("no bucket: %v", err)
	}
}

func TestWrongKeysAreAClearError(t *testing.T) {
	srv := s3test.Start(t)
	cfg := srv.Config("wrongkeys")
	cfg.SecretKey = "not-the-secret"
	_, err := s3blobs.Open(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "check s3_endpoint and the keys") {
		t.Fatalf("Open with a wrong secret: %v", err)
	}
}

// TestStoreOnS3 runs the store's blob behaviour over S3: a 6 MiB message
// (two parts) delivered and fetched from offsets, the orphan sweep, a
// snapshot restored to files, and an expunged message's body kept for
// the removal delay, then removed by the sweep.
func TestStoreOnS3(t *testing.T) {
	srv := s3test.Start(t)
	blobtest.RunStore(t, func(t *testing.T, clk *blobtest.Clock) *store.Store {
		s, err := store.Open(t.TempDir(), store.Options{Now: clk.Now, Blobs: newBucket(t, srv)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if s.BlobRemoveDelay() != time.Hour {
			t.Fatalf("removal delay %v, want the default hour", s.BlobRemoveDelay())
		}
		return s
	})
}
