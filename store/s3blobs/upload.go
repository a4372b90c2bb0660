package s3blobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"
)

// upload streams one body: bytes gather in buf; each full part is sent
// as a part of a multipart upload (started with the first), and Commit
// sends the rest, as one PUT if no part was needed.
type upload struct {
	b        *Blobs
	ctx      context.Context
	key      string
	buf      []byte
	uploadID string // "" until the first part
	parts    []minio.CompletePart
	err      error // sticky
	done     bool  // committed
	aborted  bool
}

var errFinished = errors.New("s3blobs: write to a finished upload")

func (u *upload) Write(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	if u.done || u.aborted {
		return 0, errFinished
	}
	n := 0
	for len(p) > 0 {
		room := int(u.b.partSize) - len(u.buf)
		take := min(room, len(p))
		u.buf = append(u.buf, p[:take]...)
		p = p[take:]
		n += take
		if len(u.buf) == int(u.b.partSize) {
			if err := u.sendPart(); err != nil {
				u.err = err
				return n, err
			}
		}
	}
	return n, nil
}

// sendPart uploads buf as the next part and empties it.
func (u *upload) sendPart() error {
	if u.uploadID == "" {
		id, err := u.b.core.NewMultipartUpload(u.ctx, u.b.bucket, u.key, minio.PutObjectOptions{ContentType: contentType})
		if err != nil {
			return fmt.Errorf("start S3 upload: %w", err)
		}
		u.uploadID = id
	}
	num := len(u.parts) + 1
	part, err := u.b.core.PutObjectPart(u.ctx, u.b.bucket, u.key, u.uploadID, num,
		bytes.NewReader(u.buf), int64(len(u.buf)), minio.PutObjectPartOptions{})
	if err != nil {
		return fmt.Errorf("upload part %d to S3: %w", num, err)
	}
	u.parts = append(u.parts, minio.CompletePart{PartNumber: num, ETag: part.ETag})
	u.buf = u.buf[:0]
	return nil
}

// Commit finishes the upload; once it returns nil the object exists.
func (u *upload) Commit() error {
	if u.err != nil {
		return u.err
	}
	if u.aborted {
		return errFinished
	}
	if u.done {
		return nil
	}
	if u.uploadID == "" {
		_, err := u.b.core.PutObject(u.ctx, u.b.bucket, u.key, bytes.NewReader(u.buf), int64(len(u.buf)), "", "",
			minio.PutObjectOptions{ContentType: contentType})
		if err != nil {
			u.err = fmt.Errorf("upload to S3: %w", err)
			return u.err
		}
	} else {
		if len(u.buf) > 0 {
			if err := u.sendPart(); err != nil {
				u.err = err
				return err
			}
		}
		if _, err := u.b.core.CompleteMultipartUpload(u.ctx, u.b.bucket, u.key, u.uploadID, u.parts,
			minio.PutObjectOptions{ContentType: contentType}); err != nil {
			u.err = fmt.Errorf("complete S3 upload: %w", err)
			return u.err
		}
	}
	u.done = true
	u.buf = nil
	return nil
}

// Abort removes what was sent: the object if committed, else the
// multipart upload's parts. A failure is returned; what it leaves, the
// orphan sweep finds.
func (u *upload) Abort() error {
	if u.aborted {
		return nil
	}
	u.aborted = true
	u.buf = nil
	ctx := context.WithoutCancel(u.ctx)
	switch {
	case u.done:
		if err := u.b.core.RemoveObject(ctx, u.b.bucket, u.key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
			return fmt.Errorf("remove aborted body from S3: %w", err)
		}
	case u.uploadID != "":
		if err := u.b.core.AbortMultipartUpload(ctx, u.b.bucket, u.key, u.uploadID); err != nil && !isNotFound(err) {
			return fmt.Errorf("abort S3 upload: %w", err)
		}
	}
	return nil
}

// reader reads an object from its current offset; Seek drops the open
// response, and the next Read asks for the rest from the new offset (a
// partial FETCH of a large body does not download what it skips).
type reader struct {
	b    *Blobs
	ctx  context.Context
	key  string
	size int64
	off  int64
	body io.ReadCloser // nil after a Seek, until the next Read
}

func (r *reader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	if r.body == nil {
		opts := minio.GetObjectOptions{}
		if r.off > 0 { // SetRange(0, 0) would ask for one byte
			if err := opts.SetRange(r.off, 0); err != nil {
				return 0, err
			}
		}
		body, _, _, err := r.b.core.GetObject(r.ctx, r.b.bucket, r.key, opts)
		if err != nil {
			return 0, fmt.Errorf("read message body from S3: %w", err)
		}
		r.body = body
	}
	n, err := r.body.Read(p)
	r.off += int64(n)
	return n, err
}

func (r *reader) Seek(offset int64, whence int) (int64, error) {
	abs := offset
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		abs += r.off
	case io.SeekEnd:
		abs += r.size
	default:
		return r.off, fmt.Errorf("s3blobs: bad whence %d", whence)
	}
	if abs < 0 {
		return r.off, errors.New("s3blobs: negative position")
	}
	if abs != r.off && r.body != nil {
		r.body.Close()
		r.body = nil
	}
	r.off = abs
	return abs, nil
}

func (r *reader) Close() error {
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}
