package imapd

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailsrv/auth"
	"mailsrv/server/config"
	"mailsrv/store"
)

// fuzzServer is a server over a fresh store with alice@example.com, for
// fuzz targets (newEnv needs a *testing.T).
func fuzzServer(f *testing.F) (*store.Store, string, uint64) {
	f.Helper()
	st, err := store.Open(f.TempDir(), store.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	if err := st.AddDomain(f.Context(), store.Domain{Name: "example.com"}); err != nil {
		f.Fatal(err)
	}
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		f.Fatal(err)
	}
	acct, err := st.AddUser(f.Context(), "alice@example.com", "alice", hash)
	if err != nil {
		f.Fatal(err)
	}
	srv := New(Options{
		Store: st, AllowInsecureAuth: true,
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Limits: config.Limits{MaxMessageBytes: 1 << 20, AuthFailuresPerMinute: 1000, MaxConnectionsPerIP: 1000, MaxIMAPConnectionsPerUser: 1000},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	go srv.Serve(ln)
	f.Cleanup(func() { srv.Close() })
	return st, ln.Addr().String(), acct.MailboxID
}

// FuzzCommandParserLive sends one arbitrary command line through a live,
// logged-in session with INBOX selected, then NOOP. Whatever the line,
// the server must answer it with exactly one tagged reply, never panic
// (a panic closes the connection), never answer NO [SERVERBUG] to bad
// syntax, and answer the NOOP next: no byte of the line may run as a
// command of its own (issue 12 #7, #9).
func FuzzCommandParserLive(f *testing.F) {
	for _, s := range []string{
		"NOOP", "FETCH 0 (FLAGS)", "FETCH 1:* (BODY[4294967296])", `APPEND INBOX "32-Foo-2024 99:99:99 +0000" {28+}`,
		"SEARCH ((((ALL))))", "SEARCH NOT NOT OR ALL ALL", `LIST "" "*%*%*%x"`, `CREATE "a\x00b"`, "STORE 1 +FLAGS (\\NotAFlag)",
		"UID FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.10>)",
		"SEARCH CHARSET UTF-8 BODY {3+}", "STATUS INBOX (MESSAGES UIDNEXT UNSEEN SIZE)", "LIST (SUBSCRIBED) \"\" (* %) RETURN (STATUS (MESSAGES))",
		"UID STORE 1 FLAGS.SILENT ($Label1)", "COPY 1 INBOX", "UID MOVE 1:* INBOX", "ENABLE IMAP4rev2", "", "DONE", "FETCH 1 (BINARY[1]<0.5>)",
	} {
		f.Add(s)
	}
	st, addr, inbox := fuzzServer(f)
	for i := 0; i < 3; i++ {
		w, _ := st.NewBlob(f.Context(), 0)
		io.WriteString(w, testMessage(i))
		w.Sync()
		if _, err := st.Deliver(f.Context(), store.Delivery{Blob: w, Targets: []store.Target{{MailboxID: inbox}}}); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		line = strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return ' '
			}
			return r
		}, line)
		name := strings.ToUpper(strings.TrimPrefix(strings.Fields(line + " x")[0], "UID"))
		switch {
		case strings.HasSuffix(strings.TrimRight(line, " "), "}"):
			return // a literal follows; the data that would come is not the NOOP
		case name == "IDLE" || name == "AUTHENTICATE" || name == "LOGOUT" || name == "STARTTLS" || name == "COMPRESS":
			return // these wait for more input or end the connection by design
		}
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		fmt.Fprintf(c, "l LOGIN alice@example.com \"%s\"\r\ns SELECT INBOX\r\nt1 %s\r\nzz NOOP\r\n", testPassword, line)
		var t1 []string
		for {
			l, err := readResponse(r)
			if err != nil {
				t.Fatalf("%q: connection ended before NOOP's reply: %v (t1 replies %q)", line, err, t1)
			}
			switch {
			case strings.HasPrefix(l, "l "), strings.HasPrefix(l, "s "):
				if !strings.Contains(l, " OK") {
					t.Fatalf("setup: %q", l)
				}
			case strings.HasPrefix(l, "t1 "):
				t1 = append(t1, l)
				if strings.Contains(l, "SERVERBUG") {
					t.Errorf("%q: %q", line, l)
				}
			case strings.HasPrefix(l, "zz "):
				if len(t1) != 1 || !strings.HasPrefix(l, "zz OK") {
					t.Fatalf("%q: want one reply then NOOP OK, got %q then %q", line, t1, l)
				}
				return
			case !strings.HasPrefix(l, "* ") && !strings.HasPrefix(l, "+"):
				t.Fatalf("%q: reply to no command sent: %q (a desync)", line, l)
			}
		}
	})
}

// FuzzBodyStructureLive stores arbitrary bytes as a message and fetches
// BODYSTRUCTURE, BODY, ENVELOPE and sections through imapclient, whose
// parser checks the response is valid IMAP: building them must never
// panic or produce something a client cannot read (issue 12 #3).
func FuzzBodyStructureLive(f *testing.F) {
	for _, s := range []string{
		testMessage(1),
		"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x--\r\n",
		"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n\r\n----\r\n",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--a--\r\n",
		"Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: text/plain; charset=\"\x00\"\r\nContent-Disposition: attachment; filename*=utf-8''%ff\r\n\r\nx\r\n--a--\r\n",
		nestedParts(30),
		"From: \"\\\" <@>, =?x?q?=ff?= <a@b@c>\r\nSubject: \x00\xff\r\nDate: 99 Foo 99999\r\nIn-Reply-To: <<<>\r\n\r\n",
		"\r\n", "",
	} {
		f.Add([]byte(s))
	}
	st, addr, inbox := fuzzServer(f)
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		f.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice@example.com", testPassword).Wait(); err != nil {
		f.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		w, err := st.NewBlob(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(raw)
		w.Sync()
		d, err := st.Deliver(t.Context(), store.Delivery{Blob: w, Targets: []store.Target{{MailboxID: inbox}}})
		if err != nil {
			t.Skip("not storable:", err)
		}
		uid := imap.UID(d[0].UID)
		if err := c.Noop().Wait(); err != nil { // the session learns of the message
			t.Fatal(err)
		}
		msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
			Envelope: true, BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
			BodySection: []*imap.FetchItemBodySection{{Part: []int{1}, Peek: true}, {Part: []int{1, 1}, Specifier: imap.PartSpecifierHeader, Peek: true}},
		}).Collect()
		if err != nil || len(msgs) != 1 || msgs[0].BodyStructure == nil || msgs[0].Envelope == nil {
			t.Fatalf("FETCH of %q: %v (%d messages)", raw, err, len(msgs))
		}
		if _, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{BodyStructure: &imap.FetchItemBodyStructure{}}).Collect(); err != nil {
			t.Fatalf("FETCH BODY of %q: %v", raw, err)
		}
	})
}

// readResponse reads one response line, with the literals it carries
// (their data is dropped) and the lines that continue it.
func readResponse(r *bufio.Reader) (string, error) {
	var full strings.Builder
	for {
		l, err := r.ReadString('\n')
		full.WriteString(l)
		if err != nil {
			return full.String(), err
		}
		i := strings.LastIndexByte(l, '{')
		var n int64
		if !strings.HasSuffix(l, "}\r\n") || i < 0 {
			return full.String(), nil
		}
		if _, err := fmt.Sscanf(l[i:], "{%d}", &n); err != nil {
			return full.String(), nil
		}
		if _, err := io.CopyN(io.Discard, r, n); err != nil {
			return full.String(), err
		}
	}
}

func nestedParts(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("\r\nx\r\n")
	return b.String()
}
