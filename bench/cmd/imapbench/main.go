// Command imapbench is the mailsrv side and the Go load generator of
// bench/run.sh, which runs it against mailsrv and Dovecot with the same
// messages, over STARTTLS on both:
//
//	imapbench cert    -dir DIR                         write a self-signed cert.pem/key.pem (both servers use it)
//	imapbench serve   -data DIR -listen ADDR -cert F -key F [-ctl ADDR]
//	                  run mailsrv's imapd over a store; with -cert, LOGIN needs STARTTLS;
//	                  -ctl serves /profile/start, /profile/stop, /freeos (bench/internal/benchkit)
//	imapbench setup   -data DIR -user U -pass P        create the store, domain and user
//	imapbench fill    -data DIR -user U -folder F -n N [-first K]
//	                  deliver messages K..K+N-1 straight into the store
//	imapbench count   -data DIR -user U -folder F     print the number of messages in F (the server stopped)
//	                  serve, setup, fill, count: -config FILE instead of -data/-s3 opens the store
//	                  a mailsrv configuration names, through server/storage (bench/backends.sh)
//	imapbench maildir -dir D -n N [-first K]           write the same messages as a Maildir (for Dovecot)
//	imapbench run     -addr A -user U -pass P -folder F -n N [-append K -first S -appendfolder AF]
//	                  APPEND messages S..S+K-1 to AF (default F), then time the read
//	                  workloads on F (n messages) through go-imap's imapclient (load.go)
//	imapbench idle    -addr A -user U -pass P -conns C hold C logged-in idle connections until stdin closes
//
// Results are printed as JSON lines (see load.go) for bench/report.py.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"mailsrv/auth"
	"mailsrv/bench/internal/benchkit"
	"mailsrv/server/config"
	"mailsrv/server/imapd"
	"mailsrv/store"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: imapbench cert|serve|setup|fill|count|maildir|run|idle [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	data := fs.String("data", "", "mailsrv data directory")
	s3URL := fs.String("s3", "", "keep the message bodies in S3, http://ACCESS:SECRET@host:port/bucket (bench/backends.sh); default files in -data")
	cfgFile := fs.String("config", "", "open the store the mailsrv configuration FILE names ([store], [blobs], data_dir) through server/storage, instead of -data/-s3")
	listen := fs.String("listen", "127.0.0.1:14300", "listen address (serve)")
	certFile := fs.String("cert", "", "TLS certificate (serve)")
	keyFile := fs.String("key", "", "TLS key (serve)")
	ctl := fs.String("ctl", "", "control/profile address (serve)")
	quickAck := fs.Bool("quickack", false, "serve: re-arm TCP_QUICKACK after every read (experiment, benchkit/quickack.go)")
	addr := fs.String("addr", "127.0.0.1:14300", "server address")
	user := fs.String("user", "bench@example.com", "login")
	pass := fs.String("pass", "benchpass", "password")
	folder := fs.String("folder", "INBOX", "folder")
	dir := fs.String("dir", "", "directory (maildir, cert)")
	n := fs.Int("n", 10000, "messages")
	first := fs.Int("first", 1, "number of the first message (fill, maildir)")
	appendN := fs.Int("append", 0, "run: APPEND this many messages (numbered -first..) into -appendfolder before the reads")
	appendFolder := fs.String("appendfolder", "", "run: APPEND target (default -folder)")
	reps := fs.Int("reps", 3, "run: repetitions of each read workload (the median is reported)")
	conns := fs.Int("conns", 200, "idle connections")
	server := fs.String("server", "", "run: server name for the result lines")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "cert":
		err = benchkit.WriteCert(*dir)
	case "serve":
		err = serve(*data, *s3URL, *cfgFile, *listen, *certFile, *keyFile, *ctl, *quickAck)
	case "setup":
		err = setup(context.Background(), *data, *s3URL, *cfgFile, *user, *pass)
	case "fill":
		err = fill(context.Background(), *data, *s3URL, *cfgFile, *user, *folder, *first, *n)
	case "count":
		err = count(context.Background(), *data, *s3URL, *cfgFile, *user, *folder)
	case "maildir":
		err = writeMaildir(*dir, *first, *n)
	case "run":
		err = run(loadConfig{addr: *addr, user: *user, pass: *pass, folder: *folder, n: *n, appendN: *appendN, appendFolder: *appendFolder, first: *first, reps: *reps, server: *server})
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

func openStore(data, s3URL, cfgFile string) (*store.Store, error) {
	opts := store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if cfgFile != "" {
		return benchkit.OpenConfig(cfgFile, opts)
	}
	return benchkit.OpenStore(data, s3URL, opts)
}

func serve(data, s3URL, cfgFile, listen, certFile, keyFile, ctl string, quickAck bool) error {
	tlsConf, err := benchkit.LoadTLS(certFile, keyFile)
	if err != nil {
		return err
	}
	if ctl != "" {
		if err := benchkit.Control(ctl); err != nil {
			return err
		}
	}
	st, err := openStore(data, s3URL, cfgFile)
	if err != nil {
		return err
	}
	defer st.Close()
	srv := imapd.New(imapd.Options{Store: st, TLS: tlsConf, AllowInsecureAuth: tlsConf == nil,
		Limits: config.Limits{MaxMessageBytes: 50 << 20, AuthFailuresPerMinute: 1000, MaxConnectionsPerIP: 1000, MaxIMAPConnectionsPerUser: 1000},
		Log:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if quickAck {
		ln = benchkit.QuickAck(ln)
	}
	return srv.Serve(ln)
}

func setup(ctx context.Context, data, s3URL, cfgFile, user, pass string) error {
	st, err := openStore(data, s3URL, cfgFile)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.AddDomain(ctx, store.Domain{Name: store.DomainOf(user)}); err != nil {
		return err
	}
	hash, err := auth.HashPassword(pass)
	if err != nil {
		return err
	}
	_, err = st.AddUser(ctx, user, "", hash)
	return err
}

// fill delivers messages first..first+n-1 with 16 concurrent writers
// (group commit).
func fill(ctx context.Context, data, s3URL, cfgFile, user, folder string, first, n int) error {
	st, err := openStore(data, s3URL, cfgFile)
	if err != nil {
		return err
	}
	defer st.Close()
	if folder != "INBOX" {
		if _, err := st.CreateFolder(ctx, mustMailbox(ctx, st, user), folder, ""); err != nil {
			return err
		}
	}
	mbid := mustMailbox(ctx, st, user)
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
				i += first - 1
				bw, err := st.NewBlob(ctx, 0)
				if err == nil {
					bw.Write(Message(i))
					err = bw.Sync()
				}
				if err == nil {
					_, err = st.Deliver(ctx, store.Delivery{Blob: bw, Targets: []store.Target{{MailboxID: mbid, Folder: folder}}})
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

func count(ctx context.Context, data, s3URL, cfgFile, user, folder string) error {
	st, err := openStore(data, s3URL, cfgFile)
	if err != nil {
		return err
	}
	defer st.Close()
	f, err := st.GetFolder(ctx, mustMailbox(ctx, st, user), folder)
	if err != nil {
		return err
	}
	flags, err := st.FolderFlags(ctx, f.ID)
	if err != nil {
		return err
	}
	fmt.Println(len(flags))
	return nil
}

func mustMailbox(ctx context.Context, st *store.Store, user string) uint64 {
	a, err := st.User(ctx, user)
	if err != nil {
		panic(err)
	}
	return a.MailboxID
}

// writeMaildir writes the same messages as files for Dovecot (no IMAP).
func writeMaildir(dir string, first, n int) error {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return err
		}
	}
	for i := first; i < first+n; i++ {
		name := filepath.Join(dir, "cur", fmt.Sprintf("%d.M%dP1.bench:2,", 1700000000+i, i))
		if err := os.WriteFile(name, Message(i), 0o600); err != nil {
			return err
		}
	}
	return nil
}
