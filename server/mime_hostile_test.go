package server

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// imapsRaw is a raw IMAPS session that reads replies with their literals.
type imapsRaw struct {
	t   *testing.T
	c   *tls.Conn
	r   *bufio.Reader
	tag int
}

func dialIMAPSRaw(t *testing.T, s *Server, user, pw string) *imapsRaw {
	t.Helper()
	c, err := tls.Dial("tcp", s.Addr("imaps").String(), insecureTLS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &imapsRaw{t: t, c: c, r: bufio.NewReader(c)}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := rc.r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if _, tagged := rc.cmd(fmt.Sprintf(`LOGIN %s "%s"`, user, pw)); !strings.HasPrefix(tagged, "OK") {
		t.Fatalf("LOGIN: %s", tagged)
	}
	return rc
}

// cmd sends a command and returns everything before the tagged reply
// (literals inlined) and the tagged reply without its tag.
func (rc *imapsRaw) cmd(line string) (string, string) {
	rc.t.Helper()
	rc.tag++
	tag := fmt.Sprintf("a%d", rc.tag)
	rc.c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(rc.c, "%s %s\r\n", tag, line)
	var out strings.Builder
	for {
		l, err := rc.r.ReadString('\n')
		if err != nil {
			rc.t.Fatalf("%q: connection ended: %v (so far %.300q)", line, err, out.String())
		}
		if strings.HasPrefix(l, tag+" ") {
			return out.String(), strings.TrimRight(strings.TrimPrefix(l, tag+" "), "\r\n")
		}
		out.WriteString(l)
		if t := strings.TrimRight(l, "\r\n"); strings.HasSuffix(t, "}") {
			if i := strings.LastIndexByte(t, '{'); i >= 0 {
				if n, err := strconv.Atoi(t[i+1 : len(t)-1]); err == nil {
					if _, err := io.CopyN(&out, rc.r, int64(n)); err != nil {
						rc.t.Fatal(err)
					}
				}
			}
		}
	}
}

func mxSend(t *testing.T, s *Server, to, msg string) {
	t.Helper()
	mx, err := smtp.Dial(s.Addr("smtp").String())
	if err != nil {
		t.Fatal(err)
	}
	defer mx.Close()
	if err := mx.SendMail("mallory@attacker.example", []string{to}, strings.NewReader(msg)); err != nil {
		t.Fatalf("MX: %v", err)
	}
}

// nestedMultipart is n multiparts each inside the previous one.
func nestedMultipart(n int) string {
	var b strings.Builder
	b.WriteString("From: mallory@attacker.example\r\nTo: info@example.com\r\nSubject: nest\r\nMIME-Version: 1.0\r\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=level-%05d\r\n\r\n--level-%05d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nneedle at the bottom\r\n")
	for i := n - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--level-%05d--\r\n", i)
	}
	return b.String()
}

// Issue 12 #3 and #4: multiparts without parts, delivered by anyone
// through MX, get a valid BODYSTRUCTURE/BODY/FULL (an empty text/plain
// part stands in for the missing children) instead of a panic that drops
// the connection; 10,000 nested multiparts (about 800 KB) answer
// BODYSTRUCTURE and SEARCH BODY quickly with bounded memory.
func TestHostileMIMEThroughMX(t *testing.T) {
	s, _ := infoFixture(t)
	hdr := "From: mallory@attacker.example\r\nTo: info@example.com\r\nSubject: %s\r\nMIME-Version: 1.0\r\n"
	cases := []struct{ name, ctype, body string }{
		{"close delimiter only", `multipart/mixed; boundary="x"`, "--x--\r\n"},
		{"empty boundary", `multipart/mixed; boundary=""`, "--\r\nhello\r\n----\r\n"},
		{"no boundary parameter", `multipart/mixed`, "--\r\nhello\r\n"},
		{"no delimiter lines", `multipart/alternative; boundary="x"`, "just text, no parts\r\n"},
		{"empty body", `multipart/mixed; boundary="x"`, ""},
		{"empty nested multipart", `multipart/mixed; boundary="a"`,
			"--a\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n--a--\r\n"},
		{"nested close only", `multipart/mixed; boundary="a"`,
			"--a\r\nContent-Type: multipart/related; boundary=\"b\"\r\n\r\n--b--\r\n--a--\r\n"},
		{"rfc822 of an empty multipart", `multipart/mixed; boundary="a"`,
			"--a\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n--c--\r\n--a--\r\n"},
	}
	for _, c := range cases {
		mxSend(t, s, "info@example.com", fmt.Sprintf(hdr, c.name)+"Content-Type: "+c.ctype+"\r\n\r\n"+c.body)
	}
	rc := dialIMAPSRaw(t, s, "alice@example.com", "alice-password")
	if _, tagged := rc.cmd(`SELECT "Shared/info@example.com/INBOX"`); !strings.HasPrefix(tagged, "OK") {
		t.Fatalf("SELECT: %s", tagged)
	}
	for _, item := range []string{"BODYSTRUCTURE", "BODY", "FULL", "(BODY[1] BODY[1.MIME] BODY[1.1] BINARY.SIZE[1])"} {
		out, tagged := rc.cmd("FETCH 1:* " + item)
		if !strings.HasPrefix(tagged, "OK") {
			t.Fatalf("FETCH %s: %s", item, tagged)
		}
		if n := strings.Count(out, " FETCH "); n != len(cases) {
			t.Fatalf("FETCH %s: %d responses, want %d:\n%s", item, n, len(cases), out)
		}
		if item == "BODYSTRUCTURE" && !strings.Contains(strings.ToLower(out), `("text" "plain" ("charset" "us-ascii") nil nil "7bit" 0 0 `) {
			t.Errorf("no empty text/plain part stands in for missing children:\n%s", out)
		}
	}

	// 10,000 nested multiparts.
	deep := nestedMultipart(10000)
	if len(deep) < 750<<10 {
		t.Fatalf("deep message is only %d bytes", len(deep))
	}
	mxSend(t, s, "info@example.com", deep)
	if _, tagged := rc.cmd("NOOP"); !strings.HasPrefix(tagged, "OK") {
		t.Fatal(tagged)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	out, tagged := rc.cmd(fmt.Sprintf("FETCH %d BODYSTRUCTURE", len(cases)+1))
	bsTime := time.Since(start)
	runtime.ReadMemStats(&after)
	if !strings.HasPrefix(tagged, "OK") || !strings.Contains(strings.ToLower(out), `"application" "octet-stream"`) {
		t.Fatalf("deep BODYSTRUCTURE: %s %.500s", tagged, out)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	start = time.Now()
	for i := 0; i < 3; i++ {
		if _, tagged := rc.cmd("SEARCH BODY needle"); !strings.HasPrefix(tagged, "OK") {
			t.Fatalf("SEARCH BODY: %s", tagged)
		}
	}
	searchTime := time.Since(start) / 3
	t.Logf("10,000 nested multiparts (%d KB): BODYSTRUCTURE %v (%d MB allocated), SEARCH BODY over %d messages %v",
		len(deep)>>10, bsTime, alloc>>20, len(cases)+1, searchTime)
	if bsTime > 2*time.Second || searchTime > 2*time.Second {
		t.Errorf("deep nesting is too slow: BODYSTRUCTURE %v, SEARCH BODY %v", bsTime, searchTime)
	}
	if alloc > 128<<20 {
		t.Errorf("deep BODYSTRUCTURE allocated %d MB", alloc>>20)
	}
}
