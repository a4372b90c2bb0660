package testkit

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// LineTimeout bounds every read of the line helpers: generous, because
// the test machine may be loaded, but a test never hangs on a silent
// server.
const LineTimeout = 10 * time.Second

// ReadLine reads one line (with its CRLF) from c, failing t when none
// arrives within LineTimeout.
func ReadLine(t testing.TB, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(LineTimeout))
	l, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading a line: %v (got %q)", err, l)
	}
	return l
}

// IMAP speaks IMAP line by line, for what imapclient hides: tagged
// response codes and exactly which untagged responses arrive.
// A package's tests may embed it to add commands of their own (T,
// NextTag, C and R are what they need).
type IMAP struct {
	T   testing.TB
	C   net.Conn
	R   *bufio.Reader
	tag int
}

// NextTag returns the tag for the next command (a1, a2, …); Cmd uses it.
func (m *IMAP) NextTag() string {
	m.tag++
	return fmt.Sprintf("a%d", m.tag)
}

// DialIMAP connects to addr, reads the greeting and closes the connection
// at t's cleanup. Every read must come within LineTimeout of the last
// command.
func DialIMAP(t testing.TB, addr string) *IMAP {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return NewIMAP(t, c)
}

// NewIMAP speaks IMAP on c, an open connection (say TLS, or wrapped to
// count what is written), and reads the greeting.
func NewIMAP(t testing.TB, c net.Conn) *IMAP {
	t.Helper()
	m := &IMAP{T: t, C: c, R: bufio.NewReader(c)}
	c.SetReadDeadline(time.Now().Add(LineTimeout))
	if _, err := m.R.ReadString('\n'); err != nil {
		t.Fatalf("IMAP greeting: %v", err)
	}
	return m
}

// Login sends LOGIN with user and password quoted, failing t unless it
// is OK.
func (m *IMAP) Login(user, password string) {
	m.T.Helper()
	quote := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace
	if _, tagged := m.Cmd(fmt.Sprintf(`LOGIN "%s" "%s"`, quote(user), quote(password))); !strings.HasPrefix(tagged, " OK") {
		m.T.Fatalf("LOGIN %s: %s", user, tagged)
	}
}

// Cmd sends one command under the next tag (a1, a2, …) and returns the
// untagged lines (without CRLF) and the tagged reply without its tag,
// starting with a space (" OK …").
func (m *IMAP) Cmd(line string) (untagged []string, tagged string) {
	m.T.Helper()
	tag := m.NextTag()
	m.send(tag, line)
	for {
		l := strings.TrimRight(m.line(line), "\r\n")
		if rest, ok := strings.CutPrefix(l, tag+" "); ok {
			return untagged, " " + rest
		}
		untagged = append(untagged, l)
	}
}

// MustOK sends line under tag and returns every line of the response,
// CRLF included, the tagged one last; it fails t unless that is OK.
func (m *IMAP) MustOK(tag, line string) []string {
	m.T.Helper()
	m.send(tag, line)
	return m.Until(tag)
}

// Until reads lines, CRLF included, up to and including the tagged reply
// of tag, failing t unless it is OK.
func (m *IMAP) Until(tag string) []string {
	m.T.Helper()
	var lines []string
	for {
		l := m.line(tag)
		lines = append(lines, l)
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" OK") {
				m.T.Fatalf("%s: %q", tag, l)
			}
			return lines
		}
	}
}

// UntilClosed reads the lines the server sends, CRLF trimmed, until it
// closes the connection (or the read deadline of the last command
// passes), e.g. the BYE a session gets before it is dropped.
func (m *IMAP) UntilClosed() []string {
	var lines []string
	for {
		l, err := m.R.ReadString('\n')
		if err != nil {
			return lines
		}
		lines = append(lines, strings.TrimRight(l, "\r\n"))
	}
}

func (m *IMAP) send(tag, line string) {
	m.T.Helper()
	m.C.SetWriteDeadline(time.Now().Add(LineTimeout))
	if _, err := fmt.Fprintf(m.C, "%s %s\r\n", tag, line); err != nil {
		m.T.Fatalf("sending %s %q: %v", tag, line, err)
	}
	m.C.SetReadDeadline(time.Now().Add(LineTimeout))
}

func (m *IMAP) line(what string) string {
	m.T.Helper()
	l, err := m.R.ReadString('\n')
	if err != nil {
		m.T.Fatalf("reading the response to %q: %v", what, err)
	}
	return l
}

// FirstNum returns the number in the first submatch of re in the first
// of lines it matches (e.g. `HIGHESTMODSEQ (\d+)`), failing t if none does.
func FirstNum(t testing.TB, re *regexp.Regexp, lines []string) uint64 {
	t.Helper()
	for _, l := range lines {
		if m := re.FindStringSubmatch(l); m != nil {
			v, err := strconv.ParseUint(m[1], 10, 64)
			if err != nil {
				t.Fatalf("%s in %q: %v", re, l, err)
			}
			return v
		}
	}
	t.Fatalf("no %s in %q", re, lines)
	return 0
}
