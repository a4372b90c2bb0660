// Command imapbench measures an IMAP server for bench/imap_bench.sh, which
// runs it against mailsrv and Dovecot with the same messages:
//
//	imapbench serve   -data DIR -listen ADDR          run mailsrv's imapd over a store (loopback, plain auth)
//	imapbench setup   -data DIR -user U -pass P       create the store, domain and user
//	imapbench fill    -data DIR -user U -folder F -n N  deliver N messages straight into the store
//	imapbench maildir -dir D -n N                     write the same N messages as a Maildir (for Dovecot)
//	imapbench run     -addr A -user U -pass P -n N    APPEND N, then the timed read workloads
//	imapbench select  -addr A -user U -pass P -folder F  time SELECT + UID FETCH 1:* (FLAGS)
//	imapbench idle    -addr A -user U -pass P -conns C   hold C logged-in idle connections until stdin closes
//
// Timings are printed as "name seconds" lines for the script to compare.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailsrv/auth"
	"mailsrv/server/config"
	"mailsrv/server/imapd"
	"mailsrv/store"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: imapbench serve|setup|fill|maildir|run|select|idle [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	data := fs.String("data", "", "mailsrv data directory")
	listen := fs.String("listen", "127.0.0.1:14300", "listen address (serve)")
	addr := fs.String("addr", "127.0.0.1:14300", "server address")
	user := fs.String("user", "bench@example.com", "login")
	pass := fs.String("pass", "benchpass", "password")
	folder := fs.String("folder", "INBOX", "folder")
	dir := fs.String("dir", "", "maildir directory (maildir)")
	n := fs.Int("n", 10000, "messages")
	conns := fs.Int("conns", 200, "idle connections")
	fetches := fs.Int("fetches", 1000, "full-body fetches")
	name := fs.String("name", "", "timing name (select; default select_fetch_flags_FOLDER)")
	cpuprofile := fs.String("cpuprofile", "", "serve: write a CPU profile here until SIGTERM/SIGINT")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(*data, *listen, *cpuprofile)
	case "setup":
		err = setup(*data, *user, *pass)
	case "fill":
		err = fill(*data, *user, *folder, *n)
	case "maildir":
		err = writeMaildir(*dir, *n)
	case "run":
		err = run(*addr, *user, *pass, *n, *fetches)
	case "select":
		if *name == "" {
			*name = "select_fetch_flags_" + *folder
		}
		err = selectFetch(*addr, *user, *pass, *folder, *name)
	case "idle":
		err = idle(*addr, *user, *pass, *conns)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "imapbench:", err)
		os.Exit(1)
	}
}

// Message returns benchmark message i (about 3 KB, like the reference
// figures in shared/notes/benchmarking.md).
func Message(i int) []byte {
	body := make([]byte, 0, 3072)
	for len(body) < 2800 {
		body = fmt.Appendf(body, "Line %d of message %d: lorem ipsum dolor sit amet, consectetur.\r\n", len(body)/64, i)
	}
	return fmt.Appendf(nil, "From: Sender %d <sender%d@remote.example>\r\nTo: bench@example.com\r\nSubject: benchmark message %d\r\nMessage-ID: <bench%d@remote.example>\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n%s", i%100, i%100, i, i, body)
}

func openStore(data string) (*store.Store, error) {
	return store.Open(data, store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func serve(data, listen, cpuprofile string) error {
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
		go func() {
			<-stop
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(0)
		}()
	}
	st, err := openStore(data)
	if err != nil {
		return err
	}
	defer st.Close()
	srv := imapd.New(imapd.Options{Store: st, AllowInsecureAuth: true,
		Limits: config.Limits{MaxMessageBytes: 50 << 20, AuthFailuresPerMinute: 1000, MaxConnectionsPerIP: 1000, MaxIMAPConnectionsPerUser: 1000},
		Log:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	// SIGUSR1 prints Go memory statistics (to tell live memory from heap
	// the runtime has not returned to the OS yet). SIGUSR2 runs
	// debug.FreeOSMemory: each login's argon2id check allocates 19 MiB of
	// scratch that Go keeps as idle heap for a while; that is a fixed cost
	// (not per connection), so the script releases it before measuring.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		for v := range sig {
			if v == syscall.SIGUSR2 {
				debug.FreeOSMemory()
				continue
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(os.Stderr, "goroutines=%d heap_inuse_kib=%d heap_idle_kib=%d heap_released_kib=%d stack_inuse_kib=%d sys_kib=%d\n",
				runtime.NumGoroutine(), ms.HeapInuse>>10, ms.HeapIdle>>10, ms.HeapReleased>>10, ms.StackInuse>>10, ms.Sys>>10)
		}
	}()
	return srv.Serve(ln)
}

func setup(data, user, pass string) error {
	st, err := openStore(data)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.AddDomain(store.Domain{Name: store.DomainOf(user)}); err != nil {
		return err
	}
	hash, err := auth.HashPassword(pass)
	if err != nil {
		return err
	}
	_, err = st.AddUser(user, "", hash)
	return err
}

// fill delivers n messages with 16 concurrent writers (group commit).
func fill(data, user, folder string, n int) error {
	st, err := openStore(data)
	if err != nil {
		return err
	}
	defer st.Close()
	if folder != "INBOX" {
		if _, err := st.CreateFolder(mustMailbox(st, user), folder, ""); err != nil {
			return err
		}
	}
	mbid := mustMailbox(st, user)
	var wg sync.WaitGroup
	var mu sync.Mutex
	next, firstErr := 0, error(nil)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				next++
				i := next
				mu.Unlock()
				if i > n {
					return
				}
				bw, err := st.NewBlob(0)
				if err == nil {
					bw.Write(Message(i))
					err = bw.Sync()
				}
				if err == nil {
					_, err = st.Deliver(store.Delivery{Blob: bw, Targets: []store.Target{{MailboxID: mbid, Folder: folder}}})
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func mustMailbox(st *store.Store, user string) uint64 {
	a, err := st.User(user)
	if err != nil {
		panic(err)
	}
	return a.MailboxID
}

// writeMaildir writes the same messages as files for Dovecot (no IMAP).
func writeMaildir(dir string, n int) error {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	for i := 1; i <= n; i++ {
		name := filepath.Join(dir, "cur", fmt.Sprintf("%d.M%dP1.bench:2,", 1700000000+i, i))
		if err := os.WriteFile(name, Message(i), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func dial(addr, user, pass string) (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return nil, err
	}
	if err := c.Login(user, pass).Wait(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func report(name string, start time.Time) {
	fmt.Printf("%s %.4f\n", name, time.Since(start).Seconds())
}

func run(addr, user, pass string, n, fetches int) error {
	c, err := dial(addr, user, pass)
	if err != nil {
		return err
	}
	defer c.Close()
	c.Delete("bench").Wait()
	if err := c.Create("bench", nil).Wait(); err != nil {
		return err
	}
	start := time.Now()
	for i := 1; i <= n; i++ {
		msg := Message(i)
		ap := c.Append("bench", int64(len(msg)), nil)
		ap.Write(msg)
		ap.Close()
		if _, err := ap.Wait(); err != nil {
			return fmt.Errorf("append %d: %w", i, err)
		}
	}
	report(fmt.Sprintf("append_%d", n), start)
	if err := selectFetch(addr, user, pass, "bench", fmt.Sprintf("select_fetch_flags_%d", n)); err != nil {
		return err
	}
	if _, err := c.Select("bench", nil).Wait(); err != nil {
		return err
	}
	start = time.Now()
	if err := drain(c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{Envelope: true})); err != nil {
		return err
	}
	report(fmt.Sprintf("fetch_envelope_%d", n), start)
	start = time.Now()
	if _, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "sender7@"}}}, nil).Wait(); err != nil {
		return err
	}
	report("uid_search_from", start)
	start = time.Now()
	for i := 0; i < fetches; i++ {
		uid := imap.UID(rand.IntN(n) + 1)
		if err := drain(c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}})); err != nil {
			return err
		}
	}
	report(fmt.Sprintf("full_body_fetch_%d", fetches), start)
	return nil
}

// selectFetch times SELECT + UID FETCH 1:* (FLAGS) over a raw connection
// that only splits lines: go-imap's client parser costs more than either
// server here, and would hide the difference being measured.
func selectFetch(addr, user, pass, folder, name string) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 64<<10)
	// untilTagged reads lines until the tagged reply of tag; it returns the
	// number of untagged lines.
	untilTagged := func(tag string) (int, error) {
		n := 0
		for {
			line, err := r.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				continue // a long line; keep reading
			}
			if err != nil {
				return n, err
			}
			if len(line) > len(tag) && string(line[:len(tag)+1]) == tag+" " {
				if !strings.HasPrefix(string(line[len(tag)+1:]), "OK") {
					return n, fmt.Errorf("%s", strings.TrimSpace(string(line)))
				}
				return n, nil
			}
			n++
		}
	}
	if _, err := r.ReadSlice('\n'); err != nil { // greeting
		return err
	}
	fmt.Fprintf(conn, "a LOGIN %q %q\r\n", user, pass)
	if _, err := untilTagged("a"); err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintf(conn, "b SELECT %q\r\n", folder)
	if _, err := untilTagged("b"); err != nil {
		return err
	}
	fmt.Fprintf(conn, "c UID FETCH 1:* (FLAGS)\r\n")
	n, err := untilTagged("c")
	if err != nil {
		return err
	}
	report(name, start)
	fmt.Fprintf(os.Stderr, "%s: %d FETCH responses\n", name, n)
	if n == 0 {
		return errors.New("FETCH returned nothing")
	}
	return nil
}

// drain reads a FETCH without keeping responses.
func drain(cmd *imapclient.FetchCommand) error {
	for m := cmd.Next(); m != nil; m = cmd.Next() {
		if _, err := m.Collect(); err != nil {
			return err
		}
	}
	return cmd.Close()
}

// idle opens conns authenticated connections, prints "ready", and keeps
// them until stdin is closed.
func idle(addr, user, pass string, conns int) error {
	var cs []*imapclient.Client
	for i := 0; i < conns; i++ {
		c, err := dial(addr, user, pass)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		cs = append(cs, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	for _, c := range cs {
		c.Close()
	}
	return nil
}
