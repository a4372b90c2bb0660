package benchkit

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"mailsrv/server/config"
	"mailsrv/server/storage"
	"mailsrv/store"
	"mailsrv/store/s3blobs"
)

// OpenConfig opens a bench server's store the way serve does: the
// configuration file at path ([store], [blobs], data_dir; SPEC §3) through
// server/storage.Open, so bench/backends.sh can run bbolt or PostgreSQL
// with files or S3 and several servers on one database.
func OpenConfig(path string, opts store.Options) (*store.Store, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	return storage.Open(context.Background(), cfg, opts)
}

// OpenStore opens a bench server's store in data: bbolt and files, or,
// with s3 = "http://ACCESS:SECRET@host:port/bucket" (bench/backends.sh),
// bbolt with the message bodies in that S3 bucket.
func OpenStore(data, s3 string, opts store.Options) (*store.Store, error) {
	if s3 != "" {
		u, err := url.Parse(s3)
		if err != nil || u.User == nil || u.Host == "" {
			return nil, fmt.Errorf("-s3 %q is not http[s]://ACCESS:SECRET@host:port/bucket", s3)
		}
		secret, _ := u.User.Password()
		bs, err := s3blobs.Open(context.Background(), s3blobs.Config{
			Endpoint: u.Scheme + "://" + u.Host, Bucket: strings.Trim(u.Path, "/"), Region: "us-east-1",
			AccessKey: u.User.Username(), SecretKey: secret, Insecure: u.Scheme == "http",
		})
		if err != nil {
			return nil, err
		}
		opts.Blobs = bs
	}
	return store.Open(data, opts)
}
