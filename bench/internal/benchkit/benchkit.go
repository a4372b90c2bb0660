// Package benchkit holds what the bench servers (bench/cmd/imapbench serve,
// bench/cmd/smtpload -serve) share: a self-signed TLS pair written to files
// that Dovecot and Postfix can load too, so both sides of a comparison serve
// the same certificate, and a loopback control endpoint through which the
// bench driver starts and stops a CPU profile around each workload and asks
// the server to return freed heap before a memory reading; and QuickAck, the
// TCP experiment of bench/RESULTS.md. Benchmark tooling only: nothing in
// mailsrv imports it.
package benchkit

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"time"

	"mailsrv/server/tlsconf"
)

// WriteCert writes a fresh self-signed pair for localhost, 127.0.0.1 and
// ::1 to dir/cert.pem and dir/key.pem, made by the same generator as
// serve's self-signed mode (tlsconf.GenerateSelfSigned).
func WriteCert(dir string) error {
	certPEM, keyPEM, err := tlsconf.GenerateSelfSigned("localhost", time.Now())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o640)
}

// LoadTLS returns a server config for the pair in certFile/keyFile, or nil
// when both are empty (plain TCP only).
func LoadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}}, nil
}

// Control serves, on a loopback address:
//
//	GET /profile/start?path=FILE   start a CPU profile into FILE
//	GET /profile/stop              stop it (the file is complete on return)
//	GET /trace/start?path=FILE     start a runtime/trace execution trace into FILE
//	GET /trace/stop                stop it (where goroutines wait: go tool trace -pprof=sched|net|sync)
//	GET /freeos                    debug.FreeOSMemory (argon2id scratch of logins)
//	GET /memstats                  Go heap figures as one line
//
// It returns once the listener is open; the server runs until the process ends.
func Control(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var cur *os.File
	mux := http.NewServeMux()
	mux.HandleFunc("/profile/start", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if cur != nil {
			http.Error(w, "a profile is running", http.StatusConflict)
			return
		}
		f, err := os.Create(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		cur = f
		fmt.Fprintln(w, "started")
	})
	mux.HandleFunc("/profile/stop", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if cur == nil {
			http.Error(w, "no profile is running", http.StatusConflict)
			return
		}
		pprof.StopCPUProfile()
		err := cur.Close()
		cur = nil
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "stopped")
	})
	var tr *os.File
	mux.HandleFunc("/trace/start", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if tr != nil {
			http.Error(w, "a trace is running", http.StatusConflict)
			return
		}
		f, err := os.Create(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		tr = f
		fmt.Fprintln(w, "started")
	})
	mux.HandleFunc("/trace/stop", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if tr == nil {
			http.Error(w, "no trace is running", http.StatusConflict)
			return
		}
		trace.Stop()
		err := tr.Close()
		tr = nil
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "stopped")
	})
	mux.HandleFunc("/freeos", func(w http.ResponseWriter, r *http.Request) {
		debug.FreeOSMemory()
		fmt.Fprintln(w, "freed")
	})
	mux.HandleFunc("/memstats", func(w http.ResponseWriter, r *http.Request) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(w, "goroutines=%d heap_inuse_kib=%d heap_idle_kib=%d heap_released_kib=%d stack_inuse_kib=%d sys_kib=%d\n",
			runtime.NumGoroutine(), ms.HeapInuse>>10, ms.HeapIdle>>10, ms.HeapReleased>>10, ms.StackInuse>>10, ms.Sys>>10)
	})
	go http.Serve(ln, mux)
	return nil
}
