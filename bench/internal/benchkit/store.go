package benchkit

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"mailsrv/store"
	"mailsrv/store/s3blobs"
)

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
