package main

// Several servers, one organisation (SPEC §9): two `mailsrv serve`
// processes on one PostgreSQL database and one S3 bucket serve the same
// mail. A delivery through A's MX reaches an IDLE session on B; members on
// A and on B flag and expunge in one shared folder and converge; A killed
// with SIGKILL in the middle of deliveries loses nothing it acknowledged,
// and B keeps serving.

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"mailsrv/internal/pgtest"
	"mailsrv/store/s3blobs/s3test"
)

// twoServers starts A and B on one fresh database and bucket, with
// example.com, alice and bob (password pw), and info@example.com shared
// by alice (owner) with bob (manage).
func twoServers(t *testing.T, pw string) (a, b *child, confA string) {
	t.Helper()
	url := pgtest.URL(t)
	s3 := s3test.Start(t)
	conf := func(name string) string {
		p := testConfig(t, filepath.Join(t.TempDir(), name))
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c := strings.Replace(string(raw), `level = "error"`, `level = "info"`, 1) +
			fmt.Sprintf("[store]\nbackend = \"postgres\"\npostgres_url = %q\n[blobs]\nbackend = \"s3\"\ns3_endpoint = %q\ns3_bucket = \"mail\"\ns3_region = %q\ns3_access_key = %q\ns3_secret_key = %q\ns3_insecure = true\n",
				url, s3.Endpoint, s3.Region, s3.AccessKey, s3.SecretKey)
		if err := os.WriteFile(p, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	confA, confB := conf("a"), conf("b")
	// Each server's CLI (offline now, through its admin socket later)
	// works on the same organisation.
	mustRun(t, "", "--config", confA, "domain", "add", "example.com")
	mustRun(t, pw+"\n", "--config", confA, "user", "add", "alice@example.com", "--password-stdin")
	// B's CLI sees what A's wrote: one organisation.
	mustRun(t, pw+"\n", "--config", confB, "user", "add", "bob@example.com", "--password-stdin")
	mustRun(t, "", "--config", confB, "shared", "create", "info@example.com", "--name", "Info", "--owner", "alice@example.com")
	mustRun(t, "", "--config", confA, "shared", "grant", "info@example.com", "bob@example.com", "--rights", "read,manage")
	return startServe(t, confA), startServe(t, confB), confA
}

func imapLogin(t *testing.T, srv *child, user, pw string, opts *imapclient.Options) *imapclient.Client {
	t.Helper()
	if opts == nil {
		opts = &imapclient.Options{}
	}
	opts.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	c, err := imapclient.DialTLS(srv.addrs["imaps"], opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, pw).Wait(); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

func mxSend(mx, rcpt, id string) error {
	msg := fmt.Sprintf("From: <s@sender.test>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s>\r\n\r\nhello from %s\r\n", rcpt, id, id, id)
	c, err := smtp.Dial(mx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.SendMail("s@sender.test", []string{rcpt}, strings.NewReader(msg))
}

func TestTwoServersOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two mailsrv serve processes, PostgreSQL and an S3 server")
	}
	const pw = "a long enough password"
	a, b, confA := twoServers(t, pw)

	// 1. IDLE on B sees a delivery made through A's MX within a second.
	exists := make(chan uint32, 16)
	onB := imapLogin(t, b, "alice@example.com", pw, &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
		},
	})
	if _, err := onB.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := onB.Idle()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := mxSend(a.addrs["smtp"], "alice@example.com", "first@sender.test"); err != nil {
		t.Fatalf("deliver through A: %v", err)
	}
	select {
	case n := <-exists:
		t.Logf("IDLE on B: * %d EXISTS %v after A's 250", n, time.Since(start))
		if d := time.Since(start); d > time.Second {
			t.Errorf("B told its IDLE session after %v, want under a second", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("IDLE on B never saw the delivery made through A")
	}
	idle.Close()
	idle.Wait()

	// 2. alice on A and bob on B flag and expunge in one shared folder
	// and converge.
	for i := range 4 {
		if err := mxSend(a.addrs["smtp"], "info@example.com", fmt.Sprintf("shared-%d@sender.test", i)); err != nil {
			t.Fatal(err)
		}
	}
	const folder = "Shared/info@example.com/INBOX"
	alice := imapLogin(t, a, "alice@example.com", pw, nil)
	bob := imapLogin(t, b, "bob@example.com", pw, nil)
	for _, c := range []*imapclient.Client{alice, bob} {
		if sel, err := c.Select(folder, nil).Wait(); err != nil || sel.NumMessages != 4 {
			t.Fatalf("select %s: %v %+v", folder, err, sel)
		}
	}
	store := func(c *imapclient.Client, uid imap.UID, flag imap.Flag) {
		t.Helper()
		if err := c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{flag}}, nil).Close(); err != nil {
			t.Fatalf("store %s on %d: %v", flag, uid, err)
		}
	}
	store(alice, 1, imap.FlagFlagged)
	store(bob, 2, imap.FlagSeen)
	store(alice, 3, imap.FlagDeleted)
	store(bob, 4, imap.FlagDeleted)
	if err := alice.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	want := map[imap.UID]string{1: `\Flagged`, 2: `\Seen`}
	for name, c := range map[string]*imapclient.Client{"alice on A": alice, "bob on B": bob} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			msgs, err := c.Fetch(imap.UIDSetNum(1, 2, 3, 4), &imap.FetchOptions{UID: true, Flags: true}).Collect()
			if err != nil && strings.Contains(err.Error(), "EXPUNGEISSUED") && time.Now().Before(deadline) {
				// B's session still shows 3 and 4 until A's expunge
				// reaches it through the event log (RFC 5530: the FETCH
				// names messages another session expunged).
				c.Noop().Wait()
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[imap.UID]string{}
			for _, m := range msgs {
				var fl []string
				for _, f := range m.Flags {
					if f != `\Recent` {
						fl = append(fl, string(f))
					}
				}
				got[m.UID] = strings.Join(fl, " ")
			}
			if fmt.Sprint(got) == fmt.Sprint(want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s sees %v, want %v", name, got, want)
			}
			if err := c.Noop().Wait(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// 3. Revoking bob through A (its admin socket) takes effect on his
	// open session on B at its next command.
	mustRun(t, "", "--config", confA, "shared", "revoke", "info@example.com", "bob@example.com")
	if _, err := bob.Fetch(imap.UIDSetNum(1), &imap.FetchOptions{Flags: true}).Collect(); err == nil {
		t.Error("bob, revoked through A, can still FETCH from the shared folder on B")
	} else {
		t.Logf("bob on B after the revoke through A: %v", err)
	}

	// 4. kill -9 A in the middle of deliveries: everything A acknowledged
	// is readable through B, and B keeps serving.
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				id := fmt.Sprintf("kill-%d-%d@sender.test", i, n)
				if err := mxSend(a.addrs["smtp"], "alice@example.com", id); err != nil {
					return
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 15 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	a.cmd.Process.Signal(syscall.SIGKILL)
	a.cmd.Wait()
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("A acknowledged nothing before the kill")
	}
	if err := onB.Noop().Wait(); err != nil {
		t.Fatalf("B's session after A died: %v", err)
	}
	sel, err := onB.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		t.Fatal("B's INBOX is empty")
	}
	all, err := onB.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: sel.NumMessages}}, &imap.FetchOptions{Envelope: true, BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
	if err != nil {
		t.Fatalf("fetch through B: %v", err)
	}
	have := map[string]bool{}
	for _, m := range all {
		for _, body := range m.BodySection {
			if strings.Contains(string(body.Bytes), "hello from "+m.Envelope.MessageID) {
				have[m.Envelope.MessageID] = true
			}
		}
	}
	for _, id := range acked {
		if !have[id] {
			t.Errorf("%s was acknowledged by A but is not readable through B", id)
		}
	}
	t.Logf("A acknowledged %d messages before kill -9; B serves all %d, %d in INBOX", len(acked), len(acked), sel.NumMessages)
}
