package imapd

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// badRow is one line of testdata/bad_input.txt.
type badRow struct {
	line   int
	want   string // OK, NO or BAD
	cmd    string // without tag and CRLF
	raw    bool   // sent without a tag
	source string
}

func readBadRows(t *testing.T, path string) []badRow {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []badRow
	for i, l := range strings.Split(string(b), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		want, cmd, ok := strings.Cut(l, "\t")
		if !ok {
			t.Fatalf("%s:%d: no tab", path, i+1)
		}
		unq, err := strconv.Unquote(`"` + strings.ReplaceAll(cmd, `"`, `\"`) + `"`)
		if err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		r := badRow{line: i + 1, want: want, cmd: unq, source: cmd}
		if strings.HasPrefix(r.cmd, "!") {
			r.raw, r.cmd = true, r.cmd[1:]
		}
		rows = append(rows, r)
	}
	return rows
}

// statusOf returns the status word of a status response line ("a1 BAD
// ...", "* BAD ..."), or "" for data lines.
func statusOf(l string) string {
	f := strings.SplitN(l, " ", 3)
	if len(f) < 2 {
		return ""
	}
	switch f[1] {
	case "OK", "NO", "BAD", "BYE":
		return f[1]
	}
	return ""
}

// Issue 12 #9 (and #7): every malformed command in testdata/bad_input.txt
// gets the tagged reply the table says (BAD where RFC 9051 says so, never
// NO [SERVERBUG]), the session goes on, and none of the command's bytes
// run as another command (the NOOP after each row gets the next reply).
func TestBadInputTable(t *testing.T) {
	e := newEnv(t)
	inbox := e.mailbox("alice@example.com")
	e.deliver(inbox, "INBOX", testMessage(1))
	e.deliver(inbox, "INBOX", testMessage(2))
	c := rawLogin(t, e.addr, "alice@example.com")
	if _, tagged := c.Cmd("SELECT INBOX"); !strings.HasPrefix(tagged, " OK") {
		t.Fatalf("SELECT: %s", tagged)
	}
	for i, r := range readBadRows(t, "testdata/bad_input.txt") {
		tag := fmt.Sprintf("t%d", i)
		line := tag + " " + r.cmd
		if r.raw {
			line = r.cmd
		}
		c.C.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c.C, "%s\r\nz%d NOOP\r\n", line, i)
		var replies []string
		noopOK := false
		for !noopOK {
			l, err := c.R.ReadString('\n')
			if err != nil {
				t.Fatalf("line %d %q: connection ended: %v (replies %q)", r.line, r.source, err, replies)
			}
			l = strings.TrimRight(l, "\r\n")
			if strings.HasPrefix(l, fmt.Sprintf("z%d ", i)) {
				if statusOf(l) != "OK" {
					t.Fatalf("line %d %q: NOOP after it got %q", r.line, r.source, l)
				}
				noopOK = true
				continue
			}
			if strings.Contains(l, "SERVERBUG") {
				t.Errorf("line %d %q: %q", r.line, r.source, l)
			}
			if st := statusOf(l); st != "" && (strings.HasPrefix(l, tag+" ") || (r.raw && !strings.HasPrefix(l, "* OK"))) {
				replies = append(replies, l)
			} else if st != "" && !strings.HasPrefix(l, "* ") {
				t.Errorf("line %d %q: unexpected tagged reply %q (a desync?)", r.line, r.source, l)
			}
		}
		if len(replies) != 1 || statusOf(replies[0]) != r.want {
			t.Errorf("line %d %q: want one %s, got %q", r.line, r.source, r.want, replies)
		}
	}
	// Nothing a refused command did was kept: no \Seen from
	// BODY[4294967296], no \NotAFlag, no appended message.
	// A second session looks: the first claimed \Recent for both messages,
	// so a \Recent here would be one that STORE kept.
	c2 := rawLogin(t, e.addr, "alice@example.com")
	if _, tagged := c2.Cmd("SELECT INBOX"); !strings.HasPrefix(tagged, " OK") {
		t.Fatalf("SELECT: %s", tagged)
	}
	untagged, tagged := c2.Cmd("FETCH 1:* (FLAGS)")
	if !strings.HasPrefix(tagged, " OK") || len(untagged) != 2 {
		t.Fatalf("FETCH FLAGS: %q %s", untagged, tagged)
	}
	for _, l := range untagged {
		if strings.Contains(l, `\Seen`) || strings.Contains(l, "NotAFlag") || strings.Contains(l, "Recent") || strings.Contains(l, "Bogus") {
			t.Errorf("a refused command changed flags: %s", l)
		}
	}
}

// Issue 12 #9: AUTHENTICATE PLAIN with a malformed message (4 NULs, no
// NUL, bad base64) is BAD, and the client may go on to log in.
func TestAuthenticateMalformedIsBAD(t *testing.T) {
	e := newEnv(t)
	nc, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	br.ReadString('\n')
	for i, resp := range []string{"AAAAAA==", "YWxpY2U=", "!!!notbase64"} { // "\0\0\0\0", "alice"
		fmt.Fprintf(nc, "a%d AUTHENTICATE PLAIN %s\r\n", i, resp)
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(l, fmt.Sprintf("a%d BAD", i)) {
			t.Errorf("AUTHENTICATE PLAIN %s: %q", resp, l)
		}
	}
	// A SASL response line longer than the read buffer is BAD and its
	// tail does not run as a command.
	fmt.Fprintf(nc, "b1 AUTHENTICATE PLAIN\r\n")
	if l, _ := br.ReadString('\n'); !strings.HasPrefix(l, "+") {
		t.Fatalf("no continuation: %q", l)
	}
	fmt.Fprintf(nc, "%s x1 LOGIN alice@example.com \"%s\"\r\nb2 NOOP\r\n", strings.Repeat("A", 5000), testPassword)
	if l, _ := br.ReadString('\n'); !strings.HasPrefix(l, "b1 BAD") {
		t.Fatalf("long SASL response: %q", l)
	}
	if l, _ := br.ReadString('\n'); !strings.HasPrefix(l, "b2 OK") {
		t.Fatalf("after a long SASL response: %q (the tail ran as a command?)", l)
	}
	fmt.Fprintf(nc, "a9 LOGIN alice@example.com \"%s\"\r\n", testPassword)
	if l, _ := br.ReadString('\n'); !strings.HasPrefix(l, "a9 OK") {
		t.Fatalf("LOGIN after bad AUTHENTICATEs: %q", l)
	}
}
