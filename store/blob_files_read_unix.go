//go:build unix

package store

import (
	"context"
	"fmt"
	"io"
	"syscall"
)

// ReadBlob reads a whole body with open, pread and close. os.Open would
// also set the descriptor non-blocking and try to register it with the
// runtime poller (two more system calls, and each costs several
// microseconds on a virtual machine): for the small bodies of a FETCH
// the file is read at once, so a plain blocking read is what it needs.
func (b *fileBlobs) ReadBlob(_ context.Context, id string, size int64, dst []byte) ([]byte, error) {
	if !validBlobID(id) {
		return dst, fmt.Errorf("bad blob id %q", id)
	}
	var fd int
	var err error
	for {
		fd, err = syscall.Open(b.path(id), syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err == syscall.ENOENT {
		return dst, fmt.Errorf("message body %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return dst, fmt.Errorf("open message body %s: %w", id, err)
	}
	defer syscall.Close(fd)
	start := len(dst)
	dst = grow(dst, size)
	buf := dst[start : start+int(size)]
	got := 0
	for got < len(buf) {
		n, err := syscall.Pread(fd, buf[got:], int64(got))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return dst[:start+got], fmt.Errorf("read message body %s: %w", id, err)
		}
		if n == 0 {
			return dst[:start+got], fmt.Errorf("message body %s: %d of %d bytes: %w", id, got, size, io.ErrUnexpectedEOF)
		}
		got += n
	}
	return dst[:start+got], nil
}
