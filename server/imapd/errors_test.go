package imapd

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// An unexpected error (here: the store closed under an open session)
// reaches the client only as a short generic NO [SERVERBUG] that a test
// can count, and is logged at error level with the connection id and the
// command; every line the session logs names its connection.
func TestInternalErrorIsGenericAndLogged(t *testing.T) {
	e := newEnv(t)
	var logs syncBuffer
	e.start(Options{Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	e.deliver(e.mailbox("alice@example.com"), "INBOX", testMessage(1))
	rc := rawLogin(t, e.addr, "alice@example.com")
	if _, tagged := rc.Cmd("SELECT INBOX"); !strings.HasPrefix(tagged, " OK") {
		t.Fatal(tagged)
	}
	e.st.Close()
	_, tagged := rc.Cmd("FETCH 1 (BODY.PEEK[])")
	if tagged != " NO [SERVERBUG] Internal server error" {
		t.Fatalf("FETCH on a closed store: %q, want a generic NO [SERVERBUG]", tagged)
	}
	var errLine string
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if !strings.Contains(l, "conn=i") {
			t.Errorf("log line without connection id: %s", l)
		}
		if strings.Contains(l, "level=ERROR") {
			errLine = l
		}
	}
	if !strings.Contains(errLine, "FETCH") || !strings.Contains(errLine, "database not open") {
		t.Fatalf("no error line naming the command and the cause; logs:\n%s", logs.String())
	}
}
