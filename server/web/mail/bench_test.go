package mail_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailsrv/server/config"
	"mailsrv/server/web/mail"
	"mailsrv/store"
)

// TestWebmailBench is bench/webmail.sh: it fills a folder with
// MAILSRV_WEBMAIL_BENCH_MESSAGES (default 100,000) messages, then prints
// the time from the request to the first message list (page 0, JSON
// decoded) over several runs, and the heap and goroutines an open event
// stream costs, over 200 streams. It is skipped unless
// MAILSRV_WEBMAIL_BENCH=1: filling the folder takes a while.
func TestWebmailBench(t *testing.T) {
	if os.Getenv("MAILSRV_WEBMAIL_BENCH") != "1" {
		t.Skip("set MAILSRV_WEBMAIL_BENCH=1 (bench/webmail.sh) to run the webmail benchmark")
	}
	n := 100000
	if v := os.Getenv("MAILSRV_WEBMAIL_BENCH_MESSAGES"); v != "" {
		fmt.Sscan(v, &n)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	fill(t, dataDir, n)
	f := newFixtureAt(t, dataDir)
	alice := f.login(t, "alice")

	var times []time.Duration
	for i := 0; i < 5; i++ {
		start := time.Now()
		var l mail.List
		alice.getJSON("/api/mail/alice@example.com/messages?folder=INBOX", &l)
		times = append(times, time.Since(start))
		if l.Total != n || len(l.Messages) != 50 {
			t.Fatalf("list: total %d, %d messages", l.Total, len(l.Messages))
		}
	}
	fmt.Printf("webmail: first message list of a %d-message folder: %v (runs: %v)\n", n, minDur(times), times)

	const streams = 200
	before := heap()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var open atomic.Int32
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", alice.base+"/api/mail/events", nil)
			hc := *alice.hc
			hc.Timeout = 0
			resp, err := hc.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			br.ReadString('\n') // "retry:"
			open.Add(1)
			io.Copy(io.Discard, br)
		}()
	}
	for open.Load() < streams {
		time.Sleep(20 * time.Millisecond)
	}
	after := heap()
	fmt.Printf("webmail: %d open event streams: %.1f KiB heap and %.1f goroutines each (client and server in one process: an upper bound)\n",
		streams, float64(after.heap-before.heap)/streams/1024, float64(after.goroutines-before.goroutines)/streams)
	cancel()
	wg.Wait()
}

type usage struct {
	heap       uint64
	goroutines int
}

func heap() usage {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return usage{heap: ms.HeapInuse + ms.StackInuse, goroutines: runtime.NumGoroutine()}
}

func minDur(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = min(m, d)
	}
	return m
}

// fill creates alice's INBOX with n small messages (without fsync: this
// is setup, not what is measured).
func fill(t *testing.T, dir string, n int) {
	st, err := store.Open(dir, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.AddDomain(t.Context(), store.Domain{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if _, err := st.AddUser(t.Context(), u+"@example.com", "", testHashes()[u]); err != nil {
			t.Fatal(err)
		}
	}
	acct, _ := st.User(t.Context(), "alice@example.com")
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				bw, err := st.NewBlob(t.Context(), 0)
				if err != nil {
					t.Error(err)
					return
				}
				fmt.Fprintf(bw, "From: Sender %d <s%d@remote.example>\r\nTo: alice@example.com\r\nSubject: message number %d\r\nDate: %s\r\n\r\nbody %d\r\n",
					i, i, i, time.Unix(1700000000+i*60, 0).UTC().Format(time.RFC1123Z), i)
				if err := bw.Sync(); err != nil {
					t.Error(err)
					return
				}
				if _, err := st.Deliver(t.Context(), store.Delivery{Blob: bw, Targets: []store.Target{{MailboxID: acct.MailboxID}}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("webmail: filled a %d-message folder in %v\n", n, time.Since(start).Round(time.Second))
}

// newFixtureAt serves an existing data directory.
func newFixtureAt(t *testing.T, dataDir string) *fixture {
	return startServer(t, func(c *config.Config) { c.DataDir = dataDir })
}
