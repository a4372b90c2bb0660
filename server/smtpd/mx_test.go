package smtpd

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailsrv/internal/testkit"
)

func TestMXAuthenticationResults(t *testing.T) {
	e := newMXEnv(t)
	cases := []struct {
		name, from string
		msg        func(string) string
		want       []string
	}{
		{"spf and dkim pass", "sender@good.test",
			func(m string) string { return e.sign(t, m) },
			[]string{"spf=pass smtp.mailfrom=sender@good.test", "dkim=pass", "header.d=good.test", "dmarc=pass"}},
		{"spf fail without dmarc", "sender@nodmarc.test",
			func(m string) string { return m },
			[]string{"spf=fail", "dkim=none", "dmarc=none"}},
		{"dkim fail, spf aligned pass", "sender@good.test",
			func(m string) string { return strings.Replace(e.sign(t, m), "hello", "HELLO tampered", 1) },
			[]string{"spf=pass", "dkim=fail", "dmarc=pass"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			subject := fmt.Sprintf("case%d", i)
			msg := tc.msg(message(tc.from, "alice@example.com", subject, "hello world\r\n"))
			testkit.Must(t, e.send(tc.from, []string{"alice@example.com"}, msg))
			var got *stored
			for _, m := range e.folder(t, "alice@example.com", "INBOX") {
				if strings.Contains(m.Raw, "Subject: "+subject+"\r\n") {
					got = &m
				}
			}
			if got == nil {
				t.Fatalf("message %s not in INBOX", subject)
			}
			if !strings.HasPrefix(got.Raw, "Received: ") || !strings.HasPrefix(header(got.Raw, "Received"),
				"from client.good.test ([127.0.0.1]) by mx.example.com with ESMTP id ") {
				t.Fatalf("first header is not our Received:\n%s", got.Raw)
			}
			if !strings.Contains(got.Raw, "\r\nAuthentication-Results: ") ||
				strings.Index(got.Raw, "Authentication-Results:") > strings.Index(got.Raw, "\r\nFrom:") {
				t.Fatalf("Authentication-Results not in the prefix:\n%s", got.Raw)
			}
			ar := header(got.Raw, "Authentication-Results")
			if !strings.HasPrefix(ar, "mx.example.com;") {
				t.Fatalf("Authentication-Results %q", ar)
			}
			for _, w := range tc.want {
				if !strings.Contains(ar, w) {
					t.Errorf("Authentication-Results %q lacks %q", ar, w)
				}
			}
			if n := strings.Count(got.Raw, "Authentication-Results:"); n != 1 {
				t.Errorf("%d Authentication-Results fields", n)
			}
			if !strings.HasSuffix(got.Raw, "\r\n\r\n"+strings.SplitN(msg, "\r\n\r\n", 2)[1]) {
				t.Errorf("body changed:\n%q", got.Raw)
			}
			if int64(len(got.Raw)) != got.Size {
				t.Errorf("stored size %d, read %d bytes", got.Size, len(got.Raw))
			}
		})
	}
}

func TestMXDMARCRejectAndQuarantine(t *testing.T) {
	e := newMXEnv(t)
	err := e.send("x@bad.test", []string{"alice@example.com"}, message("x@bad.test", "alice@example.com", "rej", "spoofed\r\n"))
	wantCode(t, err, 550, "5.7.1")
	if !strings.Contains(err.Error(), "bad.test") {
		t.Errorf("rejection does not name the domain: %v", err)
	}
	if n := len(e.folder(t, "alice@example.com", "INBOX")) + len(e.folder(t, "alice@example.com", "Junk")); n != 0 {
		t.Fatalf("rejected message stored (%d)", n)
	}
	if n := blobFiles(t, e); n != 0 {
		t.Fatalf("%d blob files left after a rejection", n)
	}

	testkit.Must(t, e.send("x@quar.test", []string{"alice@example.com"}, message("x@quar.test", "alice@example.com", "quar", "maybe spam\r\n")))
	if n := len(e.folder(t, "alice@example.com", "INBOX")); n != 0 {
		t.Fatalf("quarantined message in INBOX")
	}
	junk := e.folder(t, "alice@example.com", "Junk")
	if len(junk) != 1 || !strings.Contains(header(junk[0].Raw, "Authentication-Results"), "dmarc=fail") {
		t.Fatalf("Junk = %+v", junk)
	}
	if v := counter(t, e, "mailsrv_smtp_messages_rejected_total", "dmarc"); v != 1 {
		t.Errorf("dmarc rejections counted %v", v)
	}
}

func TestMXRecipientValidation(t *testing.T) {
	e := newMXEnv(t)
	c, err := smtp.Dial(e.addr)
	testkit.Must(t, err)
	defer c.Close()
	testkit.Must(t, c.Hello("client.good.test"))
	testkit.Must(t, c.Mail("sender@good.test", nil))
	wantCode(t, c.Rcpt("nobody@example.com", nil), 550, "5.1.1")
	wantCode(t, c.Rcpt("victim@elsewhere.org", nil), 554, "5.7.1")
	wantCode(t, c.Rcpt("not an address", nil), 501, "5.5.2") // go-smtp's own syntax check
	for _, r := range []string{"alice@example.com", "bob@example.com", "info@example.com", "sales@example.com", "Alice@Example.COM"} {
		testkit.Must(t, c.Rcpt(r, nil))
	}
	// The duplicate Alice@ did not count; one more fits (the limit is
	// 5), the next is refused.
	testkit.Must(t, c.Rcpt("carol@example.com", nil))
	wantCode(t, c.Rcpt("dave@example.com", nil), 452, "4.5.3")
	if v := counter(t, e, "mailsrv_smtp_messages_rejected_total", "too_many_recipients"); v != 1 {
		t.Errorf("too_many_recipients counted %v", v)
	}

	if v := counter(t, e, "mailsrv_smtp_messages_rejected_total", "relay"); v != 1 {
		t.Errorf("relay rejections counted %v", v)
	}
	if v := counter(t, e, "mailsrv_smtp_messages_rejected_total", "unknown_user"); v != 1 {
		t.Errorf("unknown_user rejections counted %v", v)
	}
}

func TestMXDeliversOnceToEveryMailbox(t *testing.T) {
	e := newMXEnv(t)
	// sales@ is an alias of alice: alice gets one copy; info@ is shared.
	testkit.Must(t, e.send("s@good.test", []string{"alice@example.com", "sales@example.com", "info@example.com", "bob@example.com"},
		message("s@good.test", "team@example.com", "multi", "to all\r\n")))
	for _, a := range []string{"alice@example.com", "info@example.com", "bob@example.com"} {
		if got := e.folder(t, a, "INBOX"); len(got) != 1 {
			t.Errorf("%s has %d messages, want 1", a, len(got))
		}
	}
	// All copies share one blob: written once.
	if n := blobFiles(t, e); n != 1 {
		t.Errorf("%d blob files for one message", n)
	}
	// With several recipients the Received field names none.
	if raw := e.folder(t, "bob@example.com", "INBOX")[0].Raw; strings.Contains(header(raw, "Received"), " for <") {
		t.Errorf("Received names a recipient: %s", header(raw, "Received"))
	}
}

func TestMXOversize(t *testing.T) {
	e := newMXEnv(t)
	big := strings.Repeat(strings.Repeat("x", 998)+"\r\n", 100) // 100 KB > 64 KiB
	err := e.send("s@good.test", []string{"alice@example.com"}, message("s@good.test", "alice@example.com", "big", big))
	wantCode(t, err, 552, "5.3.4")
	if n := blobFiles(t, e); n != 0 {
		t.Fatalf("%d blob files left", n)
	}
	// SIZE= announced at MAIL is refused up front.
	c, err := smtp.Dial(e.addr)
	testkit.Must(t, err)
	defer c.Close()
	testkit.Must(t, c.Hello("client.good.test"))
	wantCode(t, c.Mail("s@good.test", &smtp.MailOptions{Size: 1 << 20}), 552, "5.3.4")
	// The session is still usable.
	testkit.Must(t, c.Mail("s@good.test", nil))
	testkit.Must(t, c.Rcpt("alice@example.com", nil))
	if v := counter(t, e, "mailsrv_smtp_messages_rejected_total", "oversize"); v != 1 {
		t.Errorf("oversize counted %v", v)
	}
}

// TestMXPipelining sends a whole transaction in one write, as PIPELINING
// clients do, and checks every answer in order.
func TestMXPipelining(t *testing.T) {
	e := newMXEnv(t)
	conn, err := net.Dial("tcp", e.addr)
	testkit.Must(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	readReply := func() string {
		t.Helper()
		var all string
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("read reply: %v (so far %q)", err, all)
			}
			all += l
			if len(l) < 4 || l[3] != '-' {
				return all
			}
		}
	}
	if r := readReply(); !strings.HasPrefix(r, "220 ") {
		t.Fatalf("greeting %q", r)
	}
	io.WriteString(conn, "EHLO client.good.test\r\n")
	ehlo := readReply()
	for _, ext := range []string{"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING", "STARTTLS", "SIZE 65536"} {
		if !strings.Contains(ehlo, ext) {
			t.Errorf("EHLO lacks %s:\n%s", ext, ehlo)
		}
	}
	if strings.Contains(ehlo, "AUTH") {
		t.Errorf("MX offers AUTH:\n%s", ehlo)
	}
	msg := message("p@good.test", "alice@example.com", "piped", "pipelined body\r\n")
	io.WriteString(conn, "MAIL FROM:<p@good.test>\r\nRCPT TO:<nobody@example.com>\r\nRCPT TO:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
	for _, want := range []string{"250 ", "550 5.1.1", "250 ", "250 ", "354 "} {
		if r := readReply(); !strings.HasPrefix(r, want) {
			t.Fatalf("want %q, got %q", want, r)
		}
	}
	io.WriteString(conn, msg+".\r\nMAIL FROM:<p@good.test>\r\nRCPT TO:<bob@example.com>\r\nBDAT 6 LAST\r\nab\r\n\r\nQUIT\r\n")
	for _, want := range []string{"250 2.0.0", "250 ", "250 ", "250 2.0.0", "221 "} {
		if r := readReply(); !strings.HasPrefix(r, want) {
			t.Fatalf("want %q, got %q", want, r)
		}
	}
	if n := len(e.folder(t, "alice@example.com", "INBOX")); n != 1 {
		t.Errorf("alice has %d messages", n)
	}
	if got := e.folder(t, "bob@example.com", "INBOX"); len(got) != 2 || !strings.HasSuffix(got[1].Raw, "\r\nab\r\n\r\n") {
		t.Errorf("bob has %+v", got)
	}
}

func TestMXConcurrentSenders(t *testing.T) {
	e := newMXEnv(t)
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			subj := fmt.Sprintf("concurrent-%03d", i)
			err := e.send("s@good.test", []string{"alice@example.com", "info@example.com"},
				e.sign(t, message("s@good.test", "alice@example.com", subj, "message "+subj+"\r\n")))
			if err != nil {
				errs <- fmt.Errorf("%s: %w", subj, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, box := range []string{"alice@example.com", "info@example.com"} {
		seen := map[string]int{}
		for _, m := range e.folder(t, box, "INBOX") {
			seen[header(m.Raw, "Subject")]++
			if !strings.Contains(header(m.Raw, "Authentication-Results"), "dkim=pass") {
				t.Errorf("%s: %s", box, header(m.Raw, "Authentication-Results"))
			}
		}
		for i := range n {
			if s := fmt.Sprintf("concurrent-%03d", i); seen[s] != 1 {
				t.Errorf("%s: %s stored %d times", box, s, seen[s])
			}
		}
	}
	if v := counter(t, e, "mailsrv_smtp_messages_accepted_total", ""); v != n {
		t.Errorf("accepted counter %v", v)
	}
}

func TestMXStartTLS(t *testing.T) {
	e := newMXEnv(t)
	c, err := smtp.DialStartTLS(e.addr, &tls.Config{ServerName: "mx.example.com", InsecureSkipVerify: true})
	testkit.Must(t, err)
	defer c.Close()
	if _, ok := c.TLSConnectionState(); !ok {
		t.Fatal("no TLS after STARTTLS")
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered again inside TLS")
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("MX offers AUTH after STARTTLS")
	}
	testkit.Must(t, c.Mail("s@good.test", nil))
	testkit.Must(t, c.Rcpt("alice@example.com", nil))
	w, err := c.Data()
	testkit.Must(t, err)
	io.WriteString(w, message("s@good.test", "alice@example.com", "tls", "secret\r\n"))
	testkit.Must(t, w.Close())
	got := e.folder(t, "alice@example.com", "INBOX")
	if len(got) != 1 || !strings.Contains(header(got[0].Raw, "Received"), "with ESMTPS") ||
		!strings.Contains(header(got[0].Raw, "Received"), "for <alice@example.com>") {
		t.Fatalf("got %+v", got)
	}
}

// TestMXBareLFAndNUL: bare LF becomes CRLF and NUL bytes are dropped
// (Postfix's normalize mode plus message_strip_characters=\0).
func TestMXBareLFAndNUL(t *testing.T) {
	e := newMXEnv(t)
	conn, err := net.Dial("tcp", e.addr)
	testkit.Must(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	io.WriteString(conn, "EHLO c.good.test\r\nMAIL FROM:<s@nodmarc.test>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n")
	io.WriteString(conn, "Subject: lf\nFrom: s@nodmarc.test\n\nline one\nli\x00ne two\n.\nend\r\n.\r\n")
	var prev string
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v (last %q)", err, prev)
		}
		if strings.HasPrefix(prev, "354 ") {
			if !strings.HasPrefix(l, "250 2.0.0") {
				t.Fatalf("answer to data %q", l)
			}
			break
		}
		prev = l
	}
	got := e.folder(t, "alice@example.com", "INBOX")
	if len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
	// "\n.\n" did not end the data (only CRLF.CRLF does, which keeps
	// SMTP smuggling out); the lone dot line stays in the body.
	if want := "Subject: lf\r\nFrom: s@nodmarc.test\r\n\r\nline one\r\nline two\r\n.\r\nend\r\n"; !strings.HasSuffix(got[0].Raw, want) {
		t.Fatalf("stored %q, want suffix %q", got[0].Raw, want)
	}
}

// TestMXStoreFailure: when the commit fails the client gets 451 4.3.0 and
// no blob file is left behind.
func TestMXStoreFailure(t *testing.T) {
	e := newMXEnv(t)
	c, err := smtp.Dial(e.addr)
	testkit.Must(t, err)
	defer c.Close()
	testkit.Must(t, c.Hello("client.good.test"))
	testkit.Must(t, c.Mail("s@good.test", nil))
	testkit.Must(t, c.Rcpt("alice@example.com", nil))
	w, err := c.Data()
	testkit.Must(t, err)
	testkit.Must(t, e.st.Close()) // the commit will fail with ErrClosed
	io.WriteString(w, message("s@good.test", "alice@example.com", "fail", "x\r\n"))
	wantCode(t, w.Close(), 451, "4.3.0")
	if n := filesUnder(t, filepath.Join(e.st.Dir(), "blobs")); n != 0 {
		t.Fatalf("%d blob files left", n)
	}
}

func TestMXConnectionCapPerIP(t *testing.T) {
	e := newMXEnv(t, func(o *MXOptions) { o.Limits.MaxConnectionsPerIP = 2 })
	var conns []*smtp.Client
	for range 2 {
		c, err := smtp.Dial(e.addr)
		testkit.Must(t, err)
		defer c.Close()
		conns = append(conns, c)
	}
	conn, err := net.Dial("tcp", e.addr)
	testkit.Must(t, err)
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	l, _ := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if !strings.HasPrefix(l, "421 4.7.0") {
		t.Fatalf("third connection got %q", l)
	}
	// Closing one frees a slot.
	testkit.Must(t, conns[0].Quit())
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := smtp.Dial(e.addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not freed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMXShutdownWaitsForTransaction: Shutdown closes idle sessions at
// once but lets a session inside DATA finish and get its 250.
func TestMXShutdownWaitsForTransaction(t *testing.T) {
	e := newMXEnv(t)
	idle, err := smtp.Dial(e.addr)
	testkit.Must(t, err)
	defer idle.Close()
	testkit.Must(t, idle.Hello("idle.good.test"))

	c, err := smtp.Dial(e.addr)
	testkit.Must(t, err)
	defer c.Close()
	testkit.Must(t, c.Hello("client.good.test"))
	testkit.Must(t, c.Mail("s@good.test", nil))
	testkit.Must(t, c.Rcpt("alice@example.com", nil))
	w, err := c.Data()
	testkit.Must(t, err)
	io.WriteString(w, message("s@good.test", "alice@example.com", "inflight", "first half\r\n"))

	done := make(chan error, 1)
	go func() { done <- e.srv.Shutdown(t.Context()) }()
	// The idle session is dropped promptly.
	if err := idle.Noop(); err == nil {
		time.Sleep(200 * time.Millisecond)
		if err := idle.Noop(); err == nil {
			t.Error("idle session still open during shutdown")
		}
	}
	io.WriteString(w, "second half\r\n")
	testkit.Must(t, w.Close())
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := e.folder(t, "alice@example.com", "INBOX"); len(got) != 1 || !strings.Contains(got[0].Raw, "second half") {
		t.Fatalf("in-flight message: %+v", got)
	}
	if _, err := net.DialTimeout("tcp", e.addr, time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

// filesUnder counts the regular files under dir (the store is closed).
func filesUnder(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	testkit.Must(t, err)
	return n
}

// blobFiles counts the stored message bodies: files, and small ones in
// the database (store/blob_inline.go).
func blobFiles(t *testing.T, e *mxEnv) int {
	t.Helper()
	n, err := e.st.StoredBodies(t.Context())
	testkit.Must(t, err)
	return n
}

// counter sums a counter family's samples whose "reason" label equals
// reason ("" = any).
func counter(t *testing.T, e *mxEnv, name, reason string) float64 {
	t.Helper()
	mfs, err := e.metrics.Registry().Gather()
	testkit.Must(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := reason == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					match = true
				}
			}
			if match {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
