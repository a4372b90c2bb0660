package imapd

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWireTables runs the scripts in testdata/wire/*.txt: each is a table
// of IMAP commands and the untagged and tagged replies they must get, over
// real connections to an in-process server (the fixture of newEnv). The
// format, one directive a line:
//
//	# comment
//	login A alice@example.com    open connection A, logged in as that user
//	deliver info@example.com INBOX 3   deliver testMessage(1..3) there
//	folder alice@example.com a/b create a folder in the store (no parents)
//	A SELECT INBOX               send a command on A (\r\n in it is CRLF,
//	                             for literals; <pad N> is N bytes of "a")
//	* 3 EXISTS                   an untagged line the last command must get
//	                             (a trailing " ..." matches any rest)
//	!* 1 FETCH ...               an untagged line it must not get
//	~ LITERAL+                   some untagged line contains this
//	= OK [READ-WRITE]            the start of its tagged reply (after the tag)
//
// Every command is also checked for what never is right: an untagged BAD
// and a SERVERBUG, unless the script expects them.
func TestWireTables(t *testing.T) {
	files, err := filepath.Glob("testdata/wire/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no wire scripts: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			runWireScript(t, f)
		})
	}
}

// wireStep is one command of a script with what it must (not) get.
type wireStep struct {
	line     int
	conn     string
	cmd      string
	want     []string
	wantNot  []string
	contains []string
	tagged   string
	untagged []string // received
	reply    string   // received tagged reply, without the tag
}

func runWireScript(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	conns := map[string]*rawConn{}
	var cur *wireStep
	finish := func() {
		if cur == nil {
			return
		}
		checkWireStep(t, path, cur)
		cur = nil
	}
	for i, raw := range strings.Split(string(data), "\n") {
		ln := strings.TrimRight(raw, "\r")
		trim := strings.TrimSpace(ln)
		switch {
		case trim == "" || strings.HasPrefix(trim, "#"):
			continue
		case strings.HasPrefix(ln, "* "):
			cur.want = append(cur.want, ln)
			continue
		case strings.HasPrefix(ln, "!* "):
			cur.wantNot = append(cur.wantNot, ln[1:])
			continue
		case strings.HasPrefix(ln, "~ "):
			cur.contains = append(cur.contains, ln[2:])
			continue
		case strings.HasPrefix(ln, "= "):
			cur.tagged = ln[2:]
			continue
		}
		finish()
		f := strings.Fields(ln)
		switch f[0] {
		case "login":
			conns[f[1]] = rawLogin(t, e.addr, f[2])
		case "deliver":
			n, _ := strconv.Atoi(f[3])
			for k := 1; k <= n; k++ {
				e.deliver(e.mailbox(f[1]), f[2], testMessage(k))
			}
		case "folder":
			if _, err := e.st.CreateFolder(t.Context(), e.mailbox(f[1]), f[2], ""); err != nil {
				t.Fatalf("%s:%d: %v", path, i+1, err)
			}
		case "sleep":
			d, _ := time.ParseDuration(f[1])
			time.Sleep(d)
		default:
			rc := conns[f[0]]
			if rc == nil {
				t.Fatalf("%s:%d: unknown connection or directive %q", path, i+1, f[0])
			}
			cur = &wireStep{line: i + 1, conn: f[0], cmd: strings.TrimSpace(ln[len(f[0]):])}
			cmd := strings.ReplaceAll(cur.cmd, `\r\n`, "\r\n")
			cmd = padding.ReplaceAllStringFunc(cmd, func(m string) string {
				n, _ := strconv.Atoi(padding.FindStringSubmatch(m)[1])
				return strings.Repeat("a", n)
			})
			cur.untagged, cur.reply = rc.cmdLit(cmd)
		}
	}
	finish()
}

func checkWireStep(t *testing.T, path string, st *wireStep) {
	t.Helper()
	where := fmt.Sprintf("%s:%d %s %s", filepath.Base(path), st.line, st.conn, st.cmd)
	got := strings.Join(st.untagged, "\n  ")
	for _, w := range st.want {
		if !slicesContainsFunc(st.untagged, func(l string) bool { return wireMatch(w, l) }) {
			t.Errorf("%s: missing %q; got:\n  %s\n  = %s", where, w, got, st.reply)
		}
	}
	for _, w := range st.contains {
		if !slicesContainsFunc(st.untagged, func(l string) bool { return strings.Contains(l, w) }) {
			t.Errorf("%s: no untagged line contains %q; got:\n  %s", where, w, got)
		}
	}
	for _, w := range st.wantNot {
		if slicesContainsFunc(st.untagged, func(l string) bool { return wireMatch(w, l) }) {
			t.Errorf("%s: unexpected %q; got:\n  %s", where, w, got)
		}
	}
	if st.tagged != "" && !strings.HasPrefix(strings.TrimSpace(st.reply), st.tagged) {
		t.Errorf("%s: tagged reply %q, want %q...; untagged:\n  %s", where, st.reply, st.tagged, got)
	}
	if !strings.Contains(st.tagged, "SERVERBUG") && strings.Contains(st.reply, "SERVERBUG") {
		t.Errorf("%s: SERVERBUG: %s", where, st.reply)
	}
	for _, l := range st.untagged {
		if strings.HasPrefix(l, "* BAD") {
			t.Errorf("%s: untagged BAD: %s", where, l)
		}
	}
}

// wireMatch matches an expected line: exactly, or by prefix when it ends
// in " ...".
func wireMatch(want, line string) bool {
	if p, ok := strings.CutSuffix(want, " ..."); ok {
		return strings.HasPrefix(line, p)
	}
	return line == want
}

func slicesContainsFunc(l []string, fn func(string) bool) bool {
	for _, x := range l {
		if fn(x) {
			return true
		}
	}
	return false
}

// cmdLit is cmd for a command that may contain literals: it sends the
// command up to each synchronising literal, waits for the continuation
// request, then sends the rest; literal data in responses is kept inline
// in the untagged line it belongs to.
func (rc *rawConn) cmdLit(line string) (untagged []string, tagged string) {
	rc.T.Helper()
	tag := "w" + strings.TrimPrefix(rc.NextTag(), "a") // the wire tables' own tags
	rc.C.SetDeadline(time.Now().Add(10 * time.Second))
	parts := splitSyncLiterals(tag + " " + line)
	for i, p := range parts {
		fmt.Fprint(rc.C, p)
		if i < len(parts)-1 {
			l, err := rc.R.ReadString('\n')
			if err != nil || !strings.HasPrefix(l, "+") {
				return nil, fmt.Sprintf(" (no continuation: %q %v)", l, err)
			}
		}
	}
	fmt.Fprint(rc.C, "\r\n")
	for {
		l, err := readWireLine(rc.R)
		if err != nil {
			rc.T.Fatalf("reading reply to %q: %v", line, err)
		}
		if strings.HasPrefix(l, tag+" ") {
			return untagged, strings.TrimPrefix(l, tag)
		}
		untagged = append(untagged, l)
	}
}

// splitSyncLiterals cuts s after each "{n}\r\n" (a synchronising
// literal; "{n+}" ones are sent without waiting).
func splitSyncLiterals(s string) []string {
	var out []string
	start := 0
	for _, m := range syncLiteral.FindAllStringIndex(s, -1) {
		out = append(out, s[start:m[1]])
		start = m[1]
	}
	return append(out, s[start:])
}

// padding is "<pad N>" in a command: N bytes of "a" (large literals).
var padding = regexp.MustCompile(`<pad ([0-9]+)>`)

var syncLiteral = regexp.MustCompile(`\{[0-9]+\}\r\n`)

// readWireLine reads one response line, inlining literals ({n}\r\n data).
func readWireLine(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		l = strings.TrimRight(l, "\r\n")
		b.WriteString(l)
		if !strings.HasSuffix(l, "}") {
			return b.String(), nil
		}
		j := strings.LastIndexByte(l, '{')
		n, err := strconv.Atoi(strings.TrimSuffix(l[j+1:len(l)-1], "+"))
		if j < 0 || err != nil {
			return b.String(), nil
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		b.WriteString("\r\n")
		b.Write(buf)
	}
}
