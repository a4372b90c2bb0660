package imapd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailsrv/server/config"
)

func countBlobFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, string(filepath.Separator)+"blobs"+string(filepath.Separator)) {
			n++
		}
		return nil
	})
	return n
}

// MULTIAPPEND (RFC 3502) over raw wire lines: three messages in one
// APPEND get consecutive UIDs and one APPENDUID with a UID set; when the
// 3rd literal is refused (over the size limit) nothing of the command is
// stored, no body file is left behind, and the connection goes on.
func TestMultiAppend(t *testing.T) {
	e := newEnv(t)
	rc := rawLogin(t, e.addr, "alice@example.com")
	caps, _ := rc.Cmd("CAPABILITY")
	if !strings.Contains(caps[0]+" ", " MULTIAPPEND ") {
		t.Fatalf("CAPABILITY lacks MULTIAPPEND: %s", caps[0])
	}
	// Above 64 KiB each: body files (small bodies are written into the
	// database with their commit, store/blob_inline.go), so counting the
	// files shows that a refused command leaves none behind.
	msg := func(i int) string { return testMessage(i) + strings.Repeat("more body\r\n", 6000) }
	lit := func(i int) string { return fmt.Sprintf("{%d+}\r\n%s", len(msg(i)), msg(i)) }

	// Three messages, flags and a date on the second one.
	_, tagged := rc.Cmd("APPEND INBOX " + lit(1) + ` (\Seen) "01-Feb-2024 10:00:00 +0000" ` + lit(2) + " " + lit(3))
	if !strings.HasPrefix(tagged, " OK [APPENDUID ") || !strings.Contains(tagged, " 1:3]") {
		t.Fatalf("MULTIAPPEND: %s", tagged)
	}
	u, _ := rc.Cmd("SELECT INBOX")
	wantLine(t, "SELECT", u, " OK", "* 3 EXISTS")
	u, tagged = rc.Cmd("FETCH 1:3 (FLAGS INTERNALDATE)")
	if !strings.HasPrefix(tagged, " OK") || len(u) != 3 || !strings.Contains(u[1], `\Seen`) || !strings.Contains(u[1], `" 1-Feb-2024 10:00:00 +0000"`) {
		t.Fatalf("FETCH after MULTIAPPEND: %q %s", u, tagged)
	}
	blobs := countBlobFiles(t, e.st.Dir())
	if blobs < 3 {
		t.Fatalf("%d body files under blobs/ for 3 messages: the count below would prove nothing", blobs)
	}

	// The 3rd literal is over the limit (1 MiB in tests): refused
	// before its data is read; the first two are not stored either.
	big := 2 << 20
	fmt.Fprintf(rc.C, "b1 APPEND INBOX %s %s {%d}\r\n", lit(4), lit(5), big)
	var lines []string
	for {
		l, err := rc.R.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
		if strings.HasPrefix(l, "b1 ") {
			break
		}
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "b1 NO [TOOBIG]") {
		t.Fatalf("oversize 3rd literal: %q", lines)
	}
	u, tagged = rc.Cmd("NOOP")
	for _, l := range u {
		if strings.Contains(l, "EXISTS") {
			t.Errorf("a refused MULTIAPPEND stored messages: %q", u)
		}
	}
	u, _ = rc.Cmd("STATUS INBOX (MESSAGES UIDNEXT)")
	wantLine(t, "STATUS", u, " OK", "* STATUS INBOX (MESSAGES 3 UIDNEXT 4)")
	if n := countBlobFiles(t, e.st.Dir()); n != blobs {
		t.Errorf("body files: %d after the refused APPEND, %d before", n, blobs)
	}

	// A bad flag on the 2nd message (after the 1st was read) and a
	// total over MultiAppendLimit are refused the same way.
	_, tagged = rc.Cmd("APPEND INBOX " + lit(6) + ` (\Recent) ` + lit(7))
	if !strings.HasPrefix(tagged, " NO") && !strings.HasPrefix(tagged, " BAD") {
		t.Errorf("APPEND with \\Recent: %s", tagged)
	}
	u, _ = rc.Cmd("STATUS INBOX (MESSAGES UIDNEXT)")
	wantLine(t, "STATUS after bad flag", u, " OK", "* STATUS INBOX (MESSAGES 3 UIDNEXT 4)")
	if n := countBlobFiles(t, e.st.Dir()); n != blobs {
		t.Errorf("body files: %d after the refused APPEND, %d before", n, blobs)
	}
	// A missing mailbox is refused before any literal is accepted.
	_, tagged = rc.Cmd("APPEND NoSuch " + lit(8) + " " + lit(9))
	if !strings.HasPrefix(tagged, " NO [TRYCREATE]") {
		t.Errorf("APPEND to a missing mailbox: %s", tagged)
	}
	// Single APPEND still works and answers a single UID.
	_, tagged = rc.Cmd("APPEND INBOX " + lit(10))
	if !strings.HasPrefix(tagged, " OK [APPENDUID ") || !strings.Contains(tagged, " 4]") {
		t.Errorf("single APPEND: %s", tagged)
	}
}

// The total of one MULTIAPPEND is bounded (MultiAppendLimit, ten times
// the message limit): the literal that crosses it is refused and nothing
// is stored.
func TestMultiAppendTotalLimit(t *testing.T) {
	e := newEnv(t)
	e.srv.Close()
	e.start(Options{Limits: config.Limits{MaxMessageBytes: 4096, AuthFailuresPerMinute: 100}})
	rc := rawLogin(t, e.addr, "alice@example.com")
	body := "Subject: x\r\n\r\n" + strings.Repeat("y", 4000) + "\r\n"
	var b strings.Builder
	b.WriteString("APPEND INBOX")
	for i := 0; i < 11; i++ {
		fmt.Fprintf(&b, " {%d+}\r\n%s", len(body), body)
	}
	_, tagged := rc.Cmd(b.String())
	if !strings.HasPrefix(tagged, " NO [TOOBIG]") {
		t.Fatalf("11 x 4 KiB with a 40 KiB total: %s", tagged)
	}
	u, _ := rc.Cmd("STATUS INBOX (MESSAGES)")
	wantLine(t, "STATUS", u, " OK", "* STATUS INBOX (MESSAGES 0)")
}
