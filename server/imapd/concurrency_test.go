package imapd

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailsrv/auth"
	"mailsrv/auth/acl"
)

// stressDuration is how long TestSharedFolderConcurrency runs: a few
// seconds by default (the suite stays fast), longer with
// MAILSRV_IMAP_STRESS=20s (as run for issue 13, under -race).
func stressDuration(t *testing.T) time.Duration {
	if v := os.Getenv("MAILSRV_IMAP_STRESS"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("MAILSRV_IMAP_STRESS: %v", err)
		}
		return d
	}
	if testing.Short() {
		return time.Second
	}
	return 3 * time.Second
}

// Ten sessions of three members on one shared folder do random FETCH,
// STORE, EXPUNGE, APPEND and MOVE at once. No command may get BAD or
// SERVERBUG (NO [EXPUNGEISSUED] for a message another session just
// expunged is right), and at the end, after a NOOP, every session's view
// (sequence numbers, UIDs, flags) is the store's.
func TestSharedFolderConcurrency(t *testing.T) {
	e := newEnv(t)
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.AddUser(t.Context(), "erin@example.com", "erin", hash); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Grant(t.Context(), e.info.ID, "erin@example.com", acl.Read|acl.Manage, 0, "admin"); err != nil {
		t.Fatal(err)
	}
	const folder = "Shared/info@example.com/INBOX"
	for i := 1; i <= 20; i++ {
		e.deliver(e.info.ID, "INBOX", testMessage(i))
	}
	members := []string{"alice@example.com", "carol@example.com", "erin@example.com"}
	var clients []*imapclient.Client
	for i := 0; i < 10; i++ {
		c, _ := e.dial(members[i%len(members)])
		if _, err := c.Select(folder, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	var commands, bad, serverBug, expungeIssued, otherNo atomic.Int64
	var failMu sync.Mutex
	var failures []string
	check := func(what string, err error) {
		commands.Add(1)
		if err == nil {
			return
		}
		var ie *imap.Error
		switch {
		case !errors.As(err, &ie):
			failMu.Lock()
			failures = append(failures, fmt.Sprintf("%s: %v", what, err))
			failMu.Unlock()
		case ie.Type == imap.StatusResponseTypeBad:
			bad.Add(1)
			failMu.Lock()
			failures = append(failures, fmt.Sprintf("%s: BAD %v", what, err))
			failMu.Unlock()
		case ie.Code == imap.ResponseCodeServerBug:
			serverBug.Add(1)
			failMu.Lock()
			failures = append(failures, fmt.Sprintf("%s: %v", what, err))
			failMu.Unlock()
		case ie.Code == "EXPUNGEISSUED":
			expungeIssued.Add(1)
		default:
			otherNo.Add(1)
			failMu.Lock()
			failures = append(failures, fmt.Sprintf("%s: %v", what, err))
			failMu.Unlock()
		}
	}
	keywords := []imap.Flag{"$label1", "$label2", "$label3", "$label4", "$label5", "$Forwarded", "Junk", "NonJunk", "$MDNSent", imap.FlagFlagged, imap.FlagSeen, imap.FlagAnswered}
	stop := time.Now().Add(stressDuration(t))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func(c *imapclient.Client, rnd *rand.Rand) {
			defer wg.Done()
			for time.Now().Before(stop) {
				mb := c.Mailbox()
				if mb == nil {
					failMu.Lock()
					failures = append(failures, fmt.Sprintf("session left the selected state (%v)", c.State()))
					failMu.Unlock()
					return
				}
				n := mb.NumMessages
				seq := uint32(1)
				if n > 0 {
					seq = uint32(rnd.Intn(int(n))) + 1
				}
				set := imap.SeqSetNum(seq)
				switch op := rnd.Intn(10); {
				case n < 10 || op == 0:
					msg := testMessage(rnd.Intn(1000))
					a := c.Append(folder, int64(len(msg)), &imap.AppendOptions{Flags: []imap.Flag{keywords[rnd.Intn(len(keywords))]}})
					a.Write([]byte(msg))
					a.Close()
					_, err := a.Wait()
					check("APPEND", err)
				case op <= 3:
					_, err := c.Fetch(set, &imap.FetchOptions{UID: true, Flags: true, Envelope: true,
						BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
					check("FETCH", err)
				case op == 4:
					_, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
					check("FETCH 1:*", err)
				case op <= 6:
					fop := imap.StoreFlagsAdd
					if rnd.Intn(2) == 0 {
						fop = imap.StoreFlagsDel
					}
					_, err := c.Store(set, &imap.StoreFlags{Op: fop, Flags: []imap.Flag{keywords[rnd.Intn(len(keywords))]}}, nil).Collect()
					check("STORE", err)
				case op == 7:
					_, err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect()
					check("STORE \\Deleted", err)
					check("EXPUNGE", c.Expunge().Close())
				case op == 8:
					_, err := c.Move(set, "Shared/info@example.com/Archive").Wait()
					check("MOVE", err)
				default:
					check("NOOP", c.Noop().Wait())
				}
			}
		}(c, rand.New(rand.NewSource(int64(i))))
	}
	wg.Wait()

	// Convergence: every session's view is the store's.
	f, err := e.st.GetFolder(t.Context(), e.info.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.st.FolderFlags(t.Context(), f.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		if got := c.Mailbox().NumMessages; got != uint32(len(want)) {
			t.Errorf("session %d sees %d messages, the store has %d", i, got, len(want))
			continue
		}
		if len(want) == 0 {
			continue
		}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		for k, m := range msgs {
			w := want[k]
			fl := make([]string, len(m.Flags))
			for j, x := range m.Flags {
				fl[j] = string(x)
			}
			// \Recent is the session's own (RFC 3501 §2.3.2), not stored.
			fl = slices.DeleteFunc(fl, func(f string) bool { return f == `\Recent` })
			slices.Sort(fl)
			if m.SeqNum != uint32(k+1) || uint32(m.UID) != w.UID || !slices.Equal(fl, w.Flags) {
				t.Errorf("session %d: message %d is UID %d %v, the store has UID %d %v", i, m.SeqNum, m.UID, fl, w.UID, w.Flags)
				break
			}
		}
	}
	t.Logf("%d commands by 10 sessions of 3 members in %v: %d BAD, %d SERVERBUG, %d NO [EXPUNGEISSUED], %d other NO; %d messages at the end",
		commands.Load(), stressDuration(t), bad.Load(), serverBug.Load(), expungeIssued.Load(), otherNo.Load(), len(want))
	for _, f := range failures[:min(len(failures), 10)] {
		t.Error(f)
	}
}
