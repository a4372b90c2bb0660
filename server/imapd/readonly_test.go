package imapd

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// rawSelect logs in over a plain socket and returns the tagged reply to
// SELECT (or EXAMINE) of folder. imapclient does not expose the tagged
// response code, and the code is what a client uses to decide whether it
// may write.
func rawSelect(t *testing.T, addr, user, cmd, folder string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	tagged := func(tag string) string {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading reply to %s: %v", tag, err)
			}
			if strings.HasPrefix(line, tag+" ") {
				return strings.TrimRight(line, "\r\n")
			}
		}
	}
	if _, err := r.ReadString('\n'); err != nil { // greeting
		t.Fatal(err)
	}
	quote := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace
	fmt.Fprintf(c, "a1 LOGIN \"%s\" \"%s\"\r\n", quote(user), quote(testPassword))
	if got := tagged("a1"); !strings.HasPrefix(got, "a1 OK") {
		t.Fatalf("LOGIN %s: %s", user, got)
	}
	fmt.Fprintf(c, "a2 %s \"%s\"\r\n", cmd, folder)
	return tagged("a2")
}

// SPEC §5: SELECT of a shared folder without manage answers [READ-ONLY];
// with manage, and for one's own folders, [READ-WRITE]; EXAMINE is always
// [READ-ONLY].
func TestSelectReadOnlyCode(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		user, cmd, folder, code string
	}{
		{"bob@example.com", "SELECT", "Shared/info@example.com/INBOX", "[READ-ONLY]"},
		{"carol@example.com", "SELECT", "Shared/info@example.com/INBOX", "[READ-WRITE]"},
		{"alice@example.com", "SELECT", "Shared/info@example.com/INBOX", "[READ-WRITE]"},
		{"bob@example.com", "SELECT", "INBOX", "[READ-WRITE]"},
		{"bob@example.com", "EXAMINE", "INBOX", "[READ-ONLY]"},
		{"carol@example.com", "EXAMINE", "Shared/info@example.com/Sent", "[READ-ONLY]"},
		// Delegate login as info@ with only read.
		{`bob@example.com\info@example.com`, "SELECT", "INBOX", "[READ-ONLY]"},
	} {
		got := rawSelect(t, e.addr, tc.user, tc.cmd, tc.folder)
		want := "a2 OK " + tc.code + " " + tc.cmd + " completed"
		if got != want {
			t.Errorf("%s: %s %s = %q, want %q", tc.user, tc.cmd, tc.folder, got, want)
		}
	}
}
