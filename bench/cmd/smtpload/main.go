// Command smtpload is the load generator (and, with -serve, the mailsrv
// side) of bench/run.sh. It is a benchmark tool only: nothing in
// mailsrv imports it; CI runs it through bench/run.sh --smoke.
//
//	smtpload -serve -data DIR -listen 127.0.0.1:PORT [-cert F -key F] [-ctl ADDR]
//	    runs mailsrv's MX intake over a fresh store in DIR with a local
//	    dnstest zone (SPF for bench.test allows 127.0.0.1), until SIGTERM;
//	    -cert/-key offer STARTTLS, -ctl serves CPU-profile control
//	    (bench/internal/benchkit).
//	smtpload -addr HOST:PORT -c 10 -n 2000 -size 3072 -to bench@example.com [-starttls]
//	    sends n messages of size bytes over c concurrent sessions (each
//	    session sends its share back to back: MAIL, RCPT, DATA, repeat) and
//	    prints "msgs=N secs=S rate=R" (messages per second).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"

	"mailsrv/auth/msgauth"
	"mailsrv/bench/internal/benchkit"
	"mailsrv/dns/dnstest"
	"mailsrv/server/config"
	"mailsrv/server/smtpd"
	"mailsrv/store"
)

func main() {
	serve := flag.Bool("serve", false, "run the mailsrv MX intake instead of generating load")
	data := flag.String("data", "", "data directory for -serve")
	listen := flag.String("listen", "127.0.0.1:0", "listen address for -serve")
	addr := flag.String("addr", "", "server to load")
	conc := flag.Int("c", 1, "concurrent sessions")
	n := flag.Int("n", 1000, "messages in total")
	size := flag.Int("size", 3072, "message size in bytes")
	from := flag.String("from", "load@bench.test", "envelope sender")
	to := flag.String("to", "bench@example.com", "recipient")
	certFile := flag.String("cert", "", "TLS certificate for -serve")
	keyFile := flag.String("key", "", "TLS key for -serve")
	ctl := flag.String("ctl", "", "profile control address for -serve")
	starttls := flag.Bool("starttls", false, "load over STARTTLS")
	noSync := flag.Bool("nosync", false, "-serve: store without any fsync (experiment: the upper bound of fewer fsyncs; never durable)")
	s3URL := flag.String("s3", "", "-serve: keep the message bodies in S3, http://ACCESS:SECRET@host:port/bucket (bench/backends.sh); default files in -data")
	cfgFile := flag.String("config", "", "-serve: open the store the mailsrv configuration FILE names ([store], [blobs], data_dir) through server/storage, instead of -data/-s3")
	quickAck := flag.Bool("quickack", false, "-serve: re-arm TCP_QUICKACK after every read (experiment, benchkit/quickack.go)")
	flag.Parse()
	var err error
	if *serve {
		err = runServer(context.Background(), *data, *s3URL, *cfgFile, *listen, *to, *certFile, *keyFile, *ctl, *quickAck, *noSync)
	} else {
		err = runLoad(*addr, *conc, *n, *size, *from, *to, *starttls)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "smtpload:", err)
		os.Exit(1)
	}
}

func runServer(ctx context.Context, dir, s3URL, cfgFile, listen, user, certFile, keyFile, ctl string, quickAck, noSync bool) error {
	if dir == "" && cfgFile == "" {
		return fmt.Errorf("-serve needs -data DIR or -config FILE")
	}
	tlsConf, err := benchkit.LoadTLS(certFile, keyFile)
	if err != nil {
		return err
	}
	if ctl != "" {
		if err := benchkit.Control(ctl); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := store.Options{Logger: log, NoSync: noSync}
	var st *store.Store
	if cfgFile != "" {
		st, err = benchkit.OpenConfig(cfgFile, opts)
	} else {
		st, err = benchkit.OpenStore(dir, s3URL, opts)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	// A second server on a shared store finds both made.
	if err := st.AddDomain(ctx, store.Domain{Name: store.DomainOf(user)}); err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	if _, err := st.AddUser(ctx, user, "", "x"); err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	dns, err := dnstest.Listen()
	if err != nil {
		return err
	}
	defer dns.Close()
	if err := dns.AddZone("bench.test", `@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ IN TXT "v=spf1 ip4:127.0.0.1 -all"
_dmarc IN TXT "v=DMARC1; p=none"
`); err != nil {
		return err
	}
	limits := config.Default().Limits
	limits.MaxConnectionsPerIP = 1000
	srv := smtpd.NewMX(smtpd.MXOptions{
		Store: st, Hostname: "mx.bench.test", Limits: limits, TLS: tlsConf,
		// DNS answers cached for a minute, as serve does.
		Verifier: msgauth.NewVerifier(msgauth.NewCachingResolver(msgauth.NewResolver(dns.Addr()), time.Minute, nil), "mx.bench.test"),
		Log:      log,
	})
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if quickAck {
		ln = benchkit.QuickAck(ln)
	}
	fmt.Println("listening", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case err := <-errc:
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// body builds a message of about size bytes with 76-character lines.
func body(from, to string, i, size int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <%s>\r\nSubject: load %d\r\nMessage-ID: <%d.%d@bench.test>\r\nDate: %s\r\n\r\n",
		from, to, i, i, time.Now().UnixNano(), time.Now().Format(time.RFC1123Z))
	line := strings.Repeat("abcdefghij", 8)[:74] + "\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return b.String()
}

func runLoad(addr string, conc, n, size int, from, to string, starttls bool) error {
	if addr == "" || conc < 1 || n < conc {
		return fmt.Errorf("need -addr, -c >= 1 and -n >= -c")
	}
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := session(addr, from, to, size, n, starttls, &next); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if firstErr != nil {
		return firstErr
	}
	fmt.Printf("msgs=%d secs=%.3f rate=%.1f\n", n, secs, float64(n)/secs)
	return nil
}

func session(addr, from, to string, size, n int, starttls bool, next *atomic.Int64) error {
	var c *smtp.Client
	var err error
	if starttls { // EHLO localhost, STARTTLS, EHLO again
		c, err = smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true})
	} else if c, err = smtp.Dial(addr); err == nil {
		err = c.Hello("load.bench.test")
	}
	if err != nil {
		return err
	}
	defer c.Close()
	for {
		i := int(next.Add(1))
		if i > n {
			return c.Quit()
		}
		if err := c.Mail(from, nil); err != nil {
			return fmt.Errorf("MAIL: %w", err)
		}
		if err := c.Rcpt(to, nil); err != nil {
			return fmt.Errorf("RCPT: %w", err)
		}
		w, err := c.Data()
		if err != nil {
			return fmt.Errorf("DATA: %w", err)
		}
		if _, err := io.WriteString(w, body(from, to, i, size)); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("end of data: %w", err)
		}
	}
}
