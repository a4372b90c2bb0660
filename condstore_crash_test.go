package main

// MODSEQ across a crash: `mailsrv serve` runs as a child, an IMAP client
// changes flags and expunges with CONDSTORE on, the server is killed with
// SIGKILL, and after the restart a QRESYNC SELECT from the first
// HIGHESTMODSEQ reports exactly the acknowledged changes with the MODSEQs
// they were acknowledged with, and the next change gets a higher one (no
// modseq is reused).

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailsrv/internal/testkit"
)

type imapLine struct {
	t   *testing.T
	c   net.Conn
	r   *bufio.Reader
	tag int
}

func imapDial(t *testing.T, addr string) *imapLine {
	t.Helper()
	// The test server's certificate is self-signed.
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	l := &imapLine{t: t, c: c, r: bufio.NewReader(c)}
	if _, err := l.r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	return l
}

// ok sends a command, fails the test unless it succeeds, and returns the
// untagged lines and the tagged one.
func (l *imapLine) ok(cmd string) ([]string, string) {
	l.t.Helper()
	l.tag++
	tag := fmt.Sprintf("c%d", l.tag)
	fmt.Fprintf(l.c, "%s %s\r\n", tag, cmd)
	var lines []string
	for {
		s, err := l.r.ReadString('\n')
		if err != nil {
			l.t.Fatalf("%s: %v", cmd, err)
		}
		s = strings.TrimRight(s, "\r\n")
		if strings.HasPrefix(s, tag+" ") {
			if !strings.HasPrefix(s, tag+" OK") {
				l.t.Fatalf("%s: %s", cmd, s)
			}
			return lines, s
		}
		lines = append(lines, s)
	}
}

var (
	reHighest = regexp.MustCompile(`HIGHESTMODSEQ (\d+)`)
	reFetchMS = regexp.MustCompile(`UID (\d+) FLAGS \(([^)]*)\) MODSEQ \((\d+)\)`)
)

func TestKill9KeepsModSeq(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mailsrv serve as a child process")
	}
	const pw = "a long enough password"
	_, conf := serveSetup(t, pw)
	srv := startServe(t, conf)
	mx, err := smtp.Dial(srv.addrs["smtp"])
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		msg := fmt.Sprintf("From: <s@sender.test>\r\nTo: <alice@example.com>\r\nSubject: m%d\r\nMessage-ID: <ms%d@sender.test>\r\n\r\nbody\r\n", i, i)
		if err := mx.SendMail("s@sender.test", []string{"alice@example.com"}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
	}
	mx.Close()
	c := imapDial(t, srv.addrs["imaps"])
	c.ok(fmt.Sprintf(`LOGIN "alice@example.com" "%s"`, pw))
	c.ok("ENABLE QRESYNC")
	lines, _ := c.ok("SELECT INBOX")
	start := testkit.FirstNum(t, reHighest, lines)
	uidValidity := testkit.FirstNum(t, regexp.MustCompile(`UIDVALIDITY (\d+)`), lines)
	// Acknowledged changes: UID → "flags@modseq".
	acked := map[uint32]string{}
	for _, st := range []string{`UID STORE 1 +FLAGS (\Seen)`, `UID STORE 2 +FLAGS (\Flagged)`, `UID STORE 1 +FLAGS ($Label1)`, `UID STORE 4 +FLAGS (\Deleted)`} {
		lines, _ := c.ok(st)
		for _, s := range lines {
			if m := reFetchMS.FindStringSubmatch(s); m != nil {
				uid, _ := strconv.Atoi(m[1])
				acked[uint32(uid)] = storedFlags(m[2]) + "@" + m[3]
			}
		}
	}
	c.ok("UID EXPUNGE 4")
	delete(acked, 4)
	lines, _ = c.ok("STATUS INBOX (HIGHESTMODSEQ)")
	before := testkit.FirstNum(t, reHighest, lines)
	if before != start+5 || len(acked) != 2 { // four stores, one expunge
		t.Fatalf("HIGHESTMODSEQ %d after 5 changes from %d; acked %v", before, start, acked)
	}

	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()

	srv = startServe(t, conf)
	c = imapDial(t, srv.addrs["imaps"])
	c.ok(fmt.Sprintf(`LOGIN "alice@example.com" "%s"`, pw))
	c.ok("ENABLE QRESYNC")
	lines, _ = c.ok(fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", uidValidity, start))
	if got := testkit.FirstNum(t, reHighest, lines); got != before {
		t.Fatalf("HIGHESTMODSEQ after kill -9: %d, acknowledged %d (%q)", got, before, lines)
	}
	if !slices.Contains(lines, "* VANISHED (EARLIER) 4") {
		t.Fatalf("no VANISHED (EARLIER) 4 after the crash: %q", lines)
	}
	got := map[uint32]string{}
	for _, s := range lines {
		if m := reFetchMS.FindStringSubmatch(s); m != nil {
			uid, _ := strconv.Atoi(m[1])
			got[uint32(uid)] = storedFlags(m[2]) + "@" + m[3]
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(acked) {
		t.Fatalf("changes after kill -9: %v, acknowledged %v", got, acked)
	}
	lines, _ = c.ok(`UID STORE 3 +FLAGS (\Answered)`)
	if m := reFetchMS.FindStringSubmatch(strings.Join(lines, " ")); m == nil || m[3] != strconv.FormatUint(before+1, 10) {
		t.Fatalf("next change after the restart: %q, want MODSEQ %d", lines, before+1)
	}
}

// storedFlags drops \Recent, which is the session's (RFC 3501 §2.3.2) and
// not part of the stored state, from a FETCH FLAGS list.
func storedFlags(list string) string {
	return strings.Join(slices.DeleteFunc(strings.Fields(list), func(f string) bool { return f == `\Recent` }), " ")
}
