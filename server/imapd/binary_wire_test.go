package imapd

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// literalCmd sends "tag <prefix>{n}" or "~{n}" with data as a synchronising
// literal, waiting for the continuation, and returns the replies.
func (rc *rawConn) literalCmd(prefix string, data []byte, suffix string) (untagged []string, tagged string) {
	rc.T.Helper()
	tag := rc.NextTag()
	fmt.Fprintf(rc.C, "%s %s{%d}\r\n", tag, prefix, len(data))
	l, err := rc.R.ReadString('\n')
	if err != nil || !strings.HasPrefix(l, "+") {
		rc.T.Fatalf("continuation for %q: %q %v", prefix, l, err)
	}
	rc.C.Write(data)
	fmt.Fprintf(rc.C, "%s\r\n", suffix)
	for {
		l, err := rc.R.ReadString('\n')
		if err != nil {
			rc.T.Fatalf("reading reply to %q: %v", prefix, err)
		}
		l = strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(l, tag+" ") {
			return untagged, " " + strings.TrimPrefix(l, tag+" ")
		}
		untagged = append(untagged, l)
	}
}

// raw sends a command and returns everything up to and including the
// tagged reply, literals included, as one string.
func (rc *rawConn) raw(line string) string {
	rc.T.Helper()
	tag := rc.NextTag()
	fmt.Fprintf(rc.C, "%s %s\r\n", tag, line)
	var b strings.Builder
	for {
		l, err := rc.R.ReadString('\n')
		if err != nil {
			rc.T.Fatalf("reading reply to %q: %v (so far %q)", line, err, b.String())
		}
		b.WriteString(l)
		if strings.HasPrefix(l, tag+" ") {
			return b.String()
		}
		var n int
		if i := strings.LastIndexByte(l, '{'); i >= 0 && strings.HasSuffix(l, "}\r\n") {
			if _, err := fmt.Sscanf(l[i:], "{%d}", &n); err == nil {
				buf := make([]byte, n)
				if _, err := io_ReadFull(rc, buf); err != nil {
					rc.T.Fatal(err)
				}
				b.Write(buf)
			}
		}
	}
}

// RFC 3516 §4.2 and RFC 3501 §4.3: a message APPENDed as literal8 with
// NULs is stored with its NUL-holding part base64-encoded, so BODY[] (a
// plain literal) carries no NUL, while BINARY[1] returns the bytes as
// sent; without NULs a literal8 message is stored byte for byte.
func TestAppendLiteral8NULBecomesBase64(t *testing.T) {
	e := newEnv(t)
	rc := rawLogin(t, e.addr, "alice@example.com")
	head := "From: user@domain.org\r\nMime-Version: 1.0\r\n" +
		"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
	body := "\x00-\xe4\n\r\n\n\n"
	if _, tagged := rc.literalCmd("APPEND INBOX ~", []byte(head+body), ""); !strings.HasPrefix(tagged, " OK") {
		t.Fatalf("APPEND literal8: %s", tagged)
	}
	rc.Cmd("SELECT INBOX")
	got := rc.raw("FETCH 1 (BODY.PEEK[] BODY.PEEK[1] BINARY.PEEK[1] BINARY.SIZE[1] RFC822.SIZE)")
	if strings.IndexByte(got[:strings.Index(got, "BINARY[1]")], 0) >= 0 {
		t.Errorf("a NUL inside a plain literal: %q", got)
	}
	for _, want := range []string{
		"Content-Transfer-Encoding: base64\r\n",
		"BODY[1] {12}\r\nAC3kCg0KCgo=",
		"BINARY[1] ~{8}\r\n" + body + " BINARY.SIZE[1] 8",
		"From: user@domain.org\r\nMime-Version: 1.0\r\nContent-Type: application/octet-stream\r\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("FETCH after APPEND ~{...}: no %q in\n%q", want, got)
		}
	}
	var size, lit int
	if i := strings.Index(got, "RFC822.SIZE "); i < 0 {
		t.Fatalf("no RFC822.SIZE: %q", got)
	} else {
		fmt.Sscanf(got[i:], "RFC822.SIZE %d", &size)
	}
	fmt.Sscanf(got[strings.Index(got, "BODY[] {"):], "BODY[] {%d}", &lit)
	if size != lit {
		t.Errorf("RFC822.SIZE %d, BODY[] %d bytes", size, lit)
	}

	// A multipart: only the part with the NUL changes.
	mp := "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\x01\x02\r\n" +
		"--b--\r\n"
	if _, tagged := rc.literalCmd("APPEND INBOX ~", []byte(mp), ""); !strings.HasPrefix(tagged, " OK") {
		t.Fatalf("APPEND multipart literal8: %s", tagged)
	}
	got = rc.raw("FETCH 2 (BODY.PEEK[1] BODY.PEEK[2] BINARY.PEEK[2] BODY.PEEK[2.MIME])")
	for _, want := range []string{"BODY[1] {5}\r\nhello", "BODY[2] {4}\r\nAAEC", "BINARY[2] ~{3}\r\n\x00\x01\x02",
		"Content-Transfer-Encoding: base64\r\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("multipart: no %q in\n%q", want, got)
		}
	}

	// Without a NUL, literal8 changes nothing.
	plain := "From: a@example.com\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9\r\n"
	rc.literalCmd("APPEND INBOX ~", []byte(plain), "")
	if got := rc.raw("FETCH 3 (BODY.PEEK[])"); !strings.Contains(got, fmt.Sprintf("BODY[] {%d}\r\n%s)", len(plain), plain)) {
		t.Errorf("literal8 without NUL changed: %q", got)
	}
}

// A NUL that base64 cannot carry (a header, an already encoded part) is
// NO [UNKNOWN-CTE] (RFC 3516 §4.2), one in a plain literal BAD (RFC 3501
// §9 CHAR8); nothing is stored either way and the session goes on.
func TestAppendNULRefusedLosesNothing(t *testing.T) {
	e := newEnv(t)
	rc := rawLogin(t, e.addr, "alice@example.com")
	for _, c := range []struct{ prefix, msg, want string }{
		{"APPEND INBOX ~", "From: a\x00b@example.com\r\n\r\nx\r\n", " NO [UNKNOWN-CTE]"},
		{"APPEND INBOX ~", "From: a@example.com\r\nContent-Transfer-Encoding: base64\r\n\r\nAA\x00A\r\n", " NO [UNKNOWN-CTE]"},
		{"APPEND INBOX ~", "Content-Type: multipart/mixed; boundary=b\r\n\r\npre\x00amble\r\n--b\r\n\r\nx\r\n--b--\r\n", " NO [UNKNOWN-CTE]"},
		{"APPEND INBOX ", "From: a@example.com\r\n\r\nx\x00y\r\n", " BAD"},
		{"APPEND INBOX (\\Seen) ", "From: a@example.com\r\n\r\n\x00\r\n", " BAD"},
	} {
		if _, tagged := rc.literalCmd(c.prefix, []byte(c.msg), ""); !strings.HasPrefix(tagged, c.want) {
			t.Errorf("%s%q: %s, want%s", c.prefix, c.msg, tagged, c.want)
		}
		if _, tagged := rc.Cmd("NOOP"); !strings.HasPrefix(tagged, " OK") {
			t.Fatalf("NOOP after %q: %s", c.msg, tagged)
		}
	}
	if untagged, _ := rc.Cmd("STATUS INBOX (MESSAGES)"); len(untagged) != 1 || !strings.Contains(untagged[0], "MESSAGES 0") {
		t.Errorf("something was stored: %q", untagged)
	}
}

func io_ReadFull(rc *rawConn, b []byte) (int, error) { return io.ReadFull(rc.R, b) }

const binaryTestMessage = "From: user@domain.org\r\nMime-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" +
	"--b\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
	"  aGVs    \r\n bG8g  \r\n   d29y  \t \r\n    bGQ= \r\n" +
	"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
	"caf=E9 foo=\r\nbar\r\n" +
	"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
	"YWJjZGVmZw1oaWprbA0KbW5vCnBxcnN0dXZxeHl6\r\n" +
	"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n" +
	"begin 644 x\r\n" +
	"--b\r\nContent-Type: text/plain; charset=x-unknown-charset\r\n\r\n" +
	"plain\r\n" +
	"--b--\r\n"

// RFC 3516 §4.2: BINARY[] and BINARY.SIZE[] undo base64 and
// quoted-printable only (the charset stays: the ISO-8859-1 é is the one
// byte 0xE9), a partial BINARY[n]<o.l> answers with its origin <o>, and a
// part in an encoding the server cannot decode fails the command with
// NO [UNKNOWN-CTE]; the session goes on.
func TestBinaryFetchDecodes(t *testing.T) {
	e := newEnv(t)
	e.deliver(e.mailbox("alice@example.com"), "INBOX", binaryTestMessage)
	rc := rawLogin(t, e.addr, "alice@example.com")
	rc.Cmd("SELECT INBOX")
	for _, c := range []struct{ cmd, want string }{
		{"FETCH 1 (BINARY.PEEK[1])", "BINARY[1] ~{11}\r\nhello world)"},
		{"FETCH 1 (BINARY.SIZE[1])", "BINARY.SIZE[1] 11)"},
		{"FETCH 1 (BINARY.PEEK[2])", "BINARY[2] ~{11}\r\ncaf\xe9 foobar)"},
		{"FETCH 1 (BINARY.SIZE[2])", "BINARY.SIZE[2] 11)"},
		{"FETCH 1 (BINARY.PEEK[3]<0.8>)", "BINARY[3]<0> ~{8}\r\nabcdefg\r)"},
		{"FETCH 1 (BINARY.PEEK[3]<15.100>)", "BINARY[3]<15> ~{15}\r\nmno\npqrstuvqxyz)"},
		{"FETCH 1 (BINARY.PEEK[5])", "BINARY[5] ~{5}\r\nplain)"},
		{"FETCH 1 (BINARY.PEEK[9])", "BINARY[9] ~{0}\r\n)"},
	} {
		got := rc.raw(c.cmd)
		if !strings.Contains(got, c.want) || !strings.Contains(got, " OK ") {
			t.Errorf("%s:\n got %q\nwant %q", c.cmd, got, c.want)
		}
	}
	for _, cmd := range []string{"FETCH 1 (BINARY.PEEK[4])", "FETCH 1 (BINARY.SIZE[4])", "UID FETCH 1 (BINARY[4])"} {
		got := rc.raw(cmd)
		if !strings.Contains(got, " NO [UNKNOWN-CTE]") {
			t.Errorf("%s: want NO [UNKNOWN-CTE], got %q", cmd, got)
		}
	}
	// BODY[4] of the same part still works, and the session goes on.
	if got := rc.raw("FETCH 1 (BODY.PEEK[4])"); !strings.Contains(got, "BODY[4] {11}\r\nbegin 644 x)") {
		t.Errorf("BODY[4]: %q", got)
	}
}

// A BINARY fetch that fails with NO [UNKNOWN-CTE] changes no flag: \Seen
// is checked for before it is set (fetch_cte.go), also for the other
// messages of the same FETCH; one that succeeds sets \Seen.
func TestBinaryUnknownCTEDoesNotSetSeen(t *testing.T) {
	e := newEnv(t)
	e.deliver(e.mailbox("alice@example.com"), "INBOX", testMessage(1))
	e.deliver(e.mailbox("alice@example.com"), "INBOX", binaryTestMessage)
	rc := rawLogin(t, e.addr, "alice@example.com")
	rc.Cmd("SELECT INBOX")
	for _, cmd := range []string{"FETCH 2 (BINARY[4])", "FETCH 1:2 (BINARY[1] BINARY[4])", "UID FETCH 2 (BINARY[4])"} {
		got := rc.raw(cmd)
		if !strings.Contains(got, " NO [UNKNOWN-CTE]") {
			t.Errorf("%s: want NO [UNKNOWN-CTE], got %q", cmd, got)
		}
		if strings.Contains(got, `\Seen`) {
			t.Errorf("%s reported \\Seen: %q", cmd, got)
		}
	}
	if got := rc.raw("FETCH 1:2 (FLAGS)"); strings.Contains(got, `\Seen`) {
		t.Fatalf("\\Seen set by a failed BINARY fetch: %q", got)
	}
	if got := rc.raw("FETCH 2 (BINARY[1])"); !strings.Contains(got, `\Seen`) || !strings.Contains(got, "hello world") {
		t.Errorf("a BINARY fetch that succeeds does not set \\Seen: %q", got)
	}
}
