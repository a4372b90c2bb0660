// Package s3blobs keeps message bodies in an S3-compatible bucket
// ([blobs] backend = "s3"), so that several `mailsrv serve` processes
// sharing one PostgreSQL database also share the bodies. It implements
// store.BlobStore with github.com/minio/minio-go/v7; the store decides
// when a body is written, referenced and removed.
//
// Keys are id-addressed: blobs/xx/<id>, the id the store gave the body
// (time-ordered, 64 random bits; xx its last two hex digits, random, so
// keys spread over the bucket's partitions), the same names a backup
// archive uses. Content addressing (key = hash of the body) would dedupe
// identical bodies, but a message to many recipients is already stored
// once, and it would cost more than it saves: the key is known only after
// the last byte (so a body must be buffered, or uploaded and copied), and
// two servers could race on one key, one deleting the body its last
// reference released while the other is about to reference it again.
// With ids every upload writes a key nobody else ever writes, so a
// delete can only hit a body that no transaction references.
//
// A body is uploaded completely before the metadata transaction that
// references it commits (the store calls Commit first): small bodies in
// one PUT, larger ones as a multipart upload whose parts are sent as they
// fill, so memory stays at one part. Uploads whose commit never happened
// are found by the store's orphan sweep through List (incomplete
// multipart uploads included) and removed a day later. A body whose last
// reference went is removed only after RemoveDelay (an hour by default),
// because an IMAP session on another server may still address the
// expunged message until it has seen the EXPUNGE.
package s3blobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"mailsrv/store"
)

// Config is the [blobs] section for backend = "s3".
type Config struct {
	// Endpoint is "https://host[:port]", "host[:port]" (https), or
	// "http://host[:port]", which only Insecure allows.
	Endpoint  string
	Bucket    string
	Region    string
	AccessKey string
	SecretKey string
	// Insecure allows a plain http:// endpoint (tests, private networks).
	Insecure bool
	// PartSize is the multipart part size (S3's minimum, 5 MiB, if
	// smaller); bodies up to it are one PUT. 0 means 8 MiB.
	PartSize int64
	// RemoveDelay is how long a body outlives its last reference; 0
	// means an hour.
	RemoveDelay time.Duration
}

const (
	minPartSize     = 5 << 20
	defaultPartSize = 8 << 20
	keyPrefix       = "blobs/"
	contentType     = "message/rfc822"
)

// Blobs is a store.BlobStore over one bucket.
type Blobs struct {
	core        minio.Core
	bucket      string
	partSize    int64
	removeDelay time.Duration
}

var _ store.BlobStore = (*Blobs)(nil)

// Open connects to the bucket, creating it if it does not exist.
func Open(ctx context.Context, cfg Config) (*Blobs, error) {
	host, secure, err := parseEndpoint(cfg.Endpoint, cfg.Insecure)
	if err != nil {
		return nil, err
	}
	if cfg.Bucket == "" {
		return nil, errors.New("[blobs] s3_bucket is empty: name the bucket that holds the message bodies")
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, err
	}
	c, err := minio.New(host, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    secure,
		Region:    cfg.Region,
		Transport: tr,
		// Path-style (endpoint/bucket/key) works with every
		// S3-compatible server; virtual hosts need DNS per bucket.
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("[blobs] s3_endpoint %q: %w", cfg.Endpoint, err)
	}
	b := &Blobs{core: minio.Core{Client: c}, bucket: cfg.Bucket, partSize: cfg.PartSize, removeDelay: cfg.RemoveDelay}
	if b.partSize == 0 {
		b.partSize = defaultPartSize
	}
	b.partSize = max(b.partSize, minPartSize)
	if b.removeDelay <= 0 {
		b.removeDelay = time.Hour
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("S3 bucket %q at %s: %w (check s3_endpoint and the keys)", cfg.Bucket, cfg.Endpoint, err)
	}
	if !ok {
		if err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			return nil, fmt.Errorf("create S3 bucket %q at %s: %w", cfg.Bucket, cfg.Endpoint, err)
		}
	}
	return b, nil
}

// parseEndpoint splits an endpoint into minio's host:port and TLS flag.
func parseEndpoint(ep string, insecure bool) (host string, secure bool, err error) {
	if ep == "" {
		return "", false, errors.New("[blobs] s3_endpoint is empty: give the S3 server's https:// URL")
	}
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" {
		return "", false, fmt.Errorf("[blobs] s3_endpoint %q is not a URL like https://s3.example.com", ep)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return "", false, fmt.Errorf("[blobs] s3_endpoint %q has a path: give only scheme, host and port (the bucket is s3_bucket)", ep)
	}
	switch u.Scheme {
	case "https":
		return u.Host, true, nil
	case "http":
		if !insecure {
			return "", false, fmt.Errorf("[blobs] s3_endpoint %q is plain http: message bodies and the S3 keys would cross the network unencrypted; use https://, or set s3_insecure = true for a test or private network", ep)
		}
		return u.Host, false, nil
	}
	return "", false, fmt.Errorf("[blobs] s3_endpoint %q: scheme %q is neither https nor http", ep, u.Scheme)
}

// RemoveDelay is how long the store keeps a body after its last
// reference went (see the package comment).
func (b *Blobs) RemoveDelay() time.Duration { return b.removeDelay }

func key(id string) string { return keyPrefix + id[len(id)-2:] + "/" + id }

// isNotFound reports S3's "no such key" (GET) or a 404 (HEAD has no body).
func isNotFound(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.Code == "NoSuchKey" || r.StatusCode == 404 && r.Code != "NoSuchBucket"
}

func notFound(id string) error {
	return fmt.Errorf("message body %s: %w", id, store.ErrNotFound)
}

// Create starts an upload; nothing is sent before the first part fills
// or Commit.
func (b *Blobs) Create(ctx context.Context, id string) (store.BlobUpload, error) {
	if len(id) < 2 {
		return nil, fmt.Errorf("bad blob id %q", id)
	}
	return &upload{b: b, ctx: ctx, key: key(id), buf: make([]byte, 0, 4096)}, nil
}

func (b *Blobs) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	body, info, _, err := b.core.GetObject(ctx, b.bucket, key(id), minio.GetObjectOptions{})
	if isNotFound(err) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("read message body %s from S3: %w", id, err)
	}
	return &reader{b: b, ctx: ctx, key: key(id), size: info.Size, body: body}, nil
}

func (b *Blobs) Stat(ctx context.Context, id string) (store.BlobInfo, error) {
	info, err := b.core.StatObject(ctx, b.bucket, key(id), minio.StatObjectOptions{})
	if isNotFound(err) {
		return store.BlobInfo{}, notFound(id)
	}
	if err != nil {
		return store.BlobInfo{}, fmt.Errorf("stat message body %s in S3: %w", id, err)
	}
	return store.BlobInfo{ID: id, Size: info.Size, Time: info.LastModified}, nil
}

// Remove deletes the object and any interrupted multipart upload of its
// key (what a crash during a large upload leaves; List reports those).
func (b *Blobs) Remove(ctx context.Context, id string) error {
	k := key(id)
	if err := b.core.RemoveObject(ctx, b.bucket, k, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove message body %s from S3: %w", id, err)
	}
	res, err := b.core.ListMultipartUploads(ctx, b.bucket, k, "", "", "", 100)
	if err != nil {
		return fmt.Errorf("list interrupted uploads of %s in S3: %w", id, err)
	}
	for _, u := range res.Uploads {
		if u.Key != k {
			continue
		}
		if err := b.core.AbortMultipartUpload(ctx, b.bucket, k, u.UploadID); err != nil && !isNotFound(err) {
			return fmt.Errorf("abort interrupted upload of %s in S3: %w", id, err)
		}
	}
	return nil
}

// List reports every object under blobs/, then every interrupted
// multipart upload (Time: when it started).
func (b *Blobs) List(ctx context.Context, fn func(store.BlobInfo) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutines if fn fails
	for o := range b.core.Client.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: keyPrefix, Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("list message bodies in S3: %w", o.Err)
		}
		if err := fn(store.BlobInfo{ID: path.Base(o.Key), Size: o.Size, Time: o.LastModified}); err != nil {
			return err
		}
	}
	for u := range b.core.Client.ListIncompleteUploads(ctx, b.bucket, keyPrefix, true) {
		if u.Err != nil {
			return fmt.Errorf("list interrupted uploads in S3: %w", u.Err)
		}
		if err := fn(store.BlobInfo{ID: path.Base(u.Key), Size: u.Size, Time: u.Initiated}); err != nil {
			return err
		}
	}
	return nil
}
