package imapd

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// RFC 7162 §3.1: the first CONDSTORE-enabling command in selected state
// (here FETCH MODSEQ) is answered with the folder's HIGHESTMODSEQ in an
// untagged OK. RFC 4731 §3.2 with RFC 7162 §3.1.5: SEARCH RETURN (MIN) or
// (MAX) with a MODSEQ criterion reports the modseq of the returned
// message(s), not of every match; ALL/COUNT report the highest of all
// matches. RFC 5182: SAVE with MIN/MAX alone keeps only those. (imaptest
// esearch-condstore.)
func TestESearchModSeqOfReturnedMessages(t *testing.T) {
	e := newEnv(t)
	mb := e.mailbox("alice@example.com")
	for i := 1; i <= 4; i++ {
		e.deliver(mb, "INBOX", testMessage(i))
	}
	rc := rawLogin(t, e.addr, "alice@example.com")
	rc.Cmd("SELECT INBOX")
	untagged, tagged := rc.Cmd("FETCH 1 (MODSEQ)")
	if !strings.HasPrefix(tagged, " OK") || !slicesContainsFunc(untagged, func(l string) bool {
		return regexp.MustCompile(`^\* OK \[HIGHESTMODSEQ \d+\]`).MatchString(l)
	}) {
		t.Errorf("FETCH MODSEQ enabling CONDSTORE: no untagged OK [HIGHESTMODSEQ]: %q %s", untagged, tagged)
	}
	// A second enabling command does not repeat it.
	if untagged, _ := rc.Cmd("FETCH 2 (MODSEQ)"); slicesContainsFunc(untagged, func(l string) bool { return strings.Contains(l, "HIGHESTMODSEQ") }) {
		t.Errorf("HIGHESTMODSEQ repeated: %q", untagged)
	}
	modseq := map[int]uint64{}
	re := regexp.MustCompile(`^\* (\d) FETCH \(.*MODSEQ \((\d+)\)`)
	for _, n := range []int{1, 3, 2, 4} {
		untagged, _ := rc.Cmd(fmt.Sprintf(`STORE %d +FLAGS (\Seen)`, n))
		for _, l := range untagged {
			if m := re.FindStringSubmatch(l); m != nil {
				modseq[n], _ = strconv.ParseUint(m[2], 10, 64)
			}
		}
	}
	if len(modseq) != 4 {
		t.Fatalf("STORE replies without MODSEQ: %v", modseq)
	}
	for _, c := range []struct{ cmd, want string }{
		{`SEARCH RETURN (MIN) 1:3 MODSEQ "/flags/\\seen" all 1`, fmt.Sprintf("MIN 1 MODSEQ %d", modseq[1])},
		{`SEARCH RETURN (MAX) 1:3 MODSEQ "/flags/\\seen" all 1`, fmt.Sprintf("MAX 3 MODSEQ %d", modseq[3])},
		{`SEARCH RETURN () 1:3 MODSEQ "/flags/\\seen" all 1`, fmt.Sprintf("ALL 1:3 MODSEQ %d", modseq[2])},
		{`SEARCH RETURN (MIN MAX) 2:3 MODSEQ "/flags/\\seen" all 1`, fmt.Sprintf("MIN 2 MAX 3 MODSEQ %d", modseq[2])},
		{`SEARCH RETURN (MIN MAX) 3:4 MODSEQ 1`, fmt.Sprintf("MIN 3 MAX 4 MODSEQ %d", modseq[4])},
		{`SEARCH RETURN (COUNT MIN) 1:3 MODSEQ 1`, fmt.Sprintf("MIN 1 COUNT 3 MODSEQ %d", modseq[2])},
	} {
		untagged, tagged := rc.Cmd(c.cmd)
		if !strings.HasPrefix(tagged, " OK") || len(untagged) != 1 || !strings.HasSuffix(untagged[0], c.want) {
			t.Errorf("%s: got %q %s, want ... %s", c.cmd, untagged, tagged, c.want)
		}
	}
	rc.Cmd("SEARCH RETURN (SAVE MAX) 1:3")
	if untagged, _ := rc.Cmd("FETCH $ (UID)"); len(untagged) != 1 || !strings.HasPrefix(untagged[0], "* 3 FETCH (UID 3") {
		t.Errorf("SAVE MAX kept %q, want message 3 only", untagged)
	}
}
