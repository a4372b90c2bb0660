// Package s3test runs a real S3 server for tests: versitygw
// (github.com/versity/versitygw, its POSIX backend over a temporary
// directory) listening on 127.0.0.1, which minio-go talks to over HTTP as
// it would to any S3 service. Tests that need it skip, saying how to
// install it, when the binary is missing; .ci/run installs it.
package s3test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mailsrv/store/s3blobs"
)

// Install is the command that provides the binary (.ci/run runs it).
const Install = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// Binary returns the versitygw binary: $MAILSRV_VERSITYGW, then PATH,
// then GOPATH/bin (where go install puts it).
func Binary() (string, error) {
	if p := os.Getenv("MAILSRV_VERSITYGW"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(filepath.SplitList(gopath)[0], "bin", "versitygw")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("versitygw (an S3 server) is not installed: %s", Install)
}

// Server is a running S3 server.
type Server struct {
	Endpoint  string // http://127.0.0.1:port
	AccessKey string
	SecretKey string
	Region    string
	Dir       string // the POSIX directory it serves: one subdirectory per bucket
}

// Config returns the s3blobs configuration of a bucket on s.
func (s *Server) Config(bucket string) s3blobs.Config {
	return s3blobs.Config{Endpoint: s.Endpoint, Bucket: bucket, Region: s.Region,
		AccessKey: s.AccessKey, SecretKey: s.SecretKey, Insecure: true}
}

// Start starts a server for t, stopped (by its PID) at t's cleanup. It
// skips t if versitygw is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Skip(err.Error())
	}
	s, stop, err := start(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s
}

// Run starts a server outside a test (benchmarks, TestMain); call stop
// when done.
func Run(dir string) (*Server, func(), error) {
	bin, err := Binary()
	if err != nil {
		return nil, nil, err
	}
	return start(bin, dir)
}

func start(bin, dir string) (*Server, func(), error) {
	data := filepath.Join(dir, "s3")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, nil, err
	}
	addr, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	s := &Server{Endpoint: "http://" + addr, AccessKey: "mailsrv-test", SecretKey: randomHex(20), Region: "us-east-1", Dir: data}
	cmd := exec.Command(bin, "--port", addr, "--access", s.AccessKey, "--secret", s.SecretKey,
		"--region", s.Region, "--quiet", "posix", data)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start versitygw: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	// A loaded machine can take seconds to start it; give it 60.
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return s, stop, nil
		}
		select {
		case err := <-exited:
			exited <- err
			return nil, nil, fmt.Errorf("versitygw exited at start (%v): %s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, errors.New("versitygw did not listen within 60 s: " + out.String())
		}
	}
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() > 64<<10 {
		return len(p), nil // keep the start, where a failure explains itself
	}
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
