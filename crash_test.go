package main

// A real crash: `mailsrv serve` runs as a child process, takes mail over
// SMTP from several sessions at once, and is killed with SIGKILL in the
// middle. Every message it answered 250 for must be in the mailbox after
// the restart, with its body readable, and the server must start again on
// the same data directory (stale admin socket, no lock left behind).
//
// SIGKILL keeps what the kernel already holds, so this proves that 250 is
// sent only after the commit, not that the fsyncs reach the disk (a power
// cut would); for that, see the fsync order in store's package doc.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailsrv/cli"
	"mailsrv/internal/pgtest"
	"mailsrv/store"
)

// TestMain lets a test start this very binary as `mailsrv`: with
// MAILSRV_RUN_MAIN=1 it is the command line tool, not the test runner.
func TestMain(m *testing.M) {
	if os.Getenv("MAILSRV_RUN_MAIN") == "1" {
		os.Exit(cli.Execute(newRoot()))
	}
	os.Exit(pgtest.Main(m)) // stops the PostgreSQL test cluster, if one was started
}

// child is a `mailsrv serve` process.
type child struct {
	cmd   *exec.Cmd
	addrs map[string]string // listener name → address, from the log
}

var listeningLine = regexp.MustCompile(`msg=listening listener=(\S+) addr=(\S+)`)

func startServe(t *testing.T, conf string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--config", conf)
	cmd.Env = append(os.Environ(), "MAILSRV_RUN_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, addrs: map[string]string{}}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		closed := false
		for sc.Scan() {
			line := sc.Text()
			if m := listeningLine.FindStringSubmatch(line); m != nil && !closed {
				c.addrs[m[1]] = m[2]
			}
			if strings.Contains(line, "msg=\"admin socket\"") && !closed {
				closed = true
				close(ready)
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatal("mailsrv serve did not come up")
	}
	return c
}

// serveSetup makes a data directory with example.com and
// alice@example.com (password pw) and a config for startServe.
func serveSetup(t *testing.T, pw string) (data, conf string) {
	t.Helper()
	data = filepath.Join(t.TempDir(), "data")
	conf = testConfig(t, data)
	// The listeners' addresses are read from the log, which needs info.
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(strings.Replace(string(b), `level = "error"`, `level = "info"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "", "--config", conf, "domain", "add", "example.com")
	mustRun(t, pw+"\n", "--config", conf, "user", "add", "alice@example.com", "--password-stdin")
	return data, conf
}

func TestKill9LosesNoAcknowledgedMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mailsrv serve as a child process")
	}
	data, conf := serveSetup(t, "a long enough password")
	// Small bodies inside the delivery's commit ([blobs]
	// inline_small_bodies, off by default) and large ones as files: both
	// ways of making a body durable are under the kill.
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString("\n[blobs]\ninline_small_bodies = true\n")
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, conf)
	mx := srv.addrs["smtp"]
	if mx == "" {
		t.Fatalf("no smtp listener in %v", srv.addrs)
	}

	var (
		mu    sync.Mutex
		acked = map[string]bool{} // Message-ID (without <>) → 250 received
		wg    sync.WaitGroup
	)
	const senders = 6
	for i := 0; i < senders; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := smtp.Dial(mx)
			if err != nil {
				return
			}
			defer c.Close()
			// Even senders' bodies (~2 KiB) commit inside the database
			// transaction (store/blob_inline.go); odd senders' (~116 KiB)
			// are files fsynced before it.
			lines := 60
			if i%2 == 1 {
				lines = 4000
			}
			for n := 0; ; n++ {
				id := fmt.Sprintf("crash-%d-%d@sender.test", i, n)
				msg := fmt.Sprintf("From: <s%d@sender.test>\r\nTo: <alice@example.com>\r\nSubject: %s\r\nMessage-ID: <%s>\r\n\r\n%s\r\n",
					i, id, id, strings.Repeat("body line of the crash test\r\n", lines))
				if err := c.SendMail("s@sender.test", []string{"alice@example.com"}, strings.NewReader(msg)); err != nil {
					return // the server died under us
				}
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			}
		}(i)
	}
	// Let deliveries run, then pull the plug mid-stream.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 60 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no message was acknowledged before the kill")
	}

	// Every acknowledged message is there, and its body reads back.
	st, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	acct, err := st.User(t.Context(), "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := st.GetFolder(t.Context(), acct.MailboxID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	flags, err := st.FolderFlags(t.Context(), inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	var uids []uint32
	for _, f := range flags {
		uids = append(uids, f.UID)
	}
	msgs, err := st.Messages(t.Context(), inbox.ID, uids)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for i := range msgs {
		rc, err := st.OpenMessage(t.Context(), &msgs[i])
		if err != nil {
			t.Fatalf("UID %d: body missing after the crash: %v", msgs[i].UID, err)
		}
		body, _ := io.ReadAll(rc)
		rc.Close()
		if int64(len(body)) != msgs[i].Size {
			t.Fatalf("UID %d: body is %d bytes, recorded %d", msgs[i].UID, len(body), msgs[i].Size)
		}
		if msgs[i].Envelope != nil {
			stored[strings.Trim(msgs[i].Envelope.MessageID, "<>")] = true
		}
	}
	st.Close()
	for id := range acked {
		if !stored[id] {
			t.Errorf("message %s was answered 250 but is not in the mailbox after kill -9", id)
		}
	}
	t.Logf("%d messages acknowledged before SIGKILL, %d stored", len(acked), len(stored))
	var small, large int
	for id := range acked {
		var i, n int
		fmt.Sscanf(id, "crash-%d-%d@", &i, &n)
		if i%2 == 0 {
			small++
		} else {
			large++
		}
	}
	if small == 0 || large == 0 {
		t.Errorf("acknowledged %d small and %d large messages before the kill: both body paths must be under it", small, large)
	}

	// The server comes back on the same data directory, and the CLI
	// reaches it through the new admin socket.
	srv = startServe(t, conf)
	if out := mustRun(t, "", "--config", conf, "user", "list"); !strings.Contains(out, "alice@example.com") {
		t.Fatalf("user list after restart: %s", out)
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	if err := srv.cmd.Wait(); err != nil {
		t.Fatalf("serve after restart exited with %v on SIGTERM", err)
	}
}
