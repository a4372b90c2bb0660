package benchkit

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// The pair WriteCert writes is what Dovecot, Postfix and the mailsrv bench
// servers all load: it must serve a real TLS handshake on 127.0.0.1.
func TestWriteCertServesTLS(t *testing.T) {
	dir := t.TempDir()
	if err := WriteCert(dir); err != nil {
		t.Fatal(err)
	}
	conf, err := LoadTLS(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.WriteString(c, "hello")
			c.Close()
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "hello" {
		t.Fatalf("read %q, %v", b, err)
	}
	if conf, err := LoadTLS("", ""); conf != nil || err != nil {
		t.Fatalf("LoadTLS without files = %v, %v; want nil, nil", conf, err)
	}
}

// A profile (and an execution trace) started and stopped over the control
// endpoint is a complete, non-empty file; a second start while one runs is
// refused.
func TestControlProfile(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := Control(addr); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	get := func(p string) int {
		resp, err := http.Get("http://" + addr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/profile/start?path=" + path); code != 200 {
		t.Fatalf("start: %d", code)
	}
	if code := get("/profile/start?path=" + path); code != http.StatusConflict {
		t.Fatalf("second start: %d, want 409", code)
	}
	if code := get("/profile/stop"); code != 200 {
		t.Fatalf("stop: %d", code)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("profile file: %v, %v", fi, err)
	}
	if code := get("/profile/stop"); code != http.StatusConflict {
		t.Fatalf("stop without profile: %d, want 409", code)
	}
	trc := filepath.Join(t.TempDir(), "exec.trace")
	if code := get("/trace/start?path=" + trc); code != 200 {
		t.Fatalf("trace start: %d", code)
	}
	if code := get("/trace/stop"); code != 200 {
		t.Fatalf("trace stop: %d", code)
	}
	if fi, err := os.Stat(trc); err != nil || fi.Size() == 0 {
		t.Fatalf("trace file: %v, %v", fi, err)
	}
	if code := get("/freeos"); code != 200 {
		t.Fatalf("freeos: %d", code)
	}
}
