package main

import (
	"bytes"
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
)

// A backup taken while mail is arriving restores into an empty data
// directory and serves again: every message acknowledged before the
// backup started is there, the password and the TLS certificate too
// (SPEC §4 `mailsrv restore`, issue 14).
func TestBackupWhileReceivingRestoreAndServe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts mailsrv serve as a child process")
	}
	const pw = "a long enough password"
	data, conf := serveSetup(t, pw)
	srv := startServe(t, conf)

	var (
		mu    sync.Mutex
		acked []string
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := smtp.Dial(srv.addrs["smtp"])
			if err != nil {
				return
			}
			defer c.Close()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("r-%d-%d@sender.test", i, n)
				msg := fmt.Sprintf("From: <s@sender.test>\r\nTo: <alice@example.com>\r\nSubject: %s\r\nMessage-ID: <%s>\r\n\r\nbody\r\n", id, id)
				if err := c.SendMail("s@sender.test", []string{"alice@example.com"}, strings.NewReader(msg)); err != nil {
					return
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}(i)
	}
	waitAcked := func(n int) {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			k := len(acked)
			mu.Unlock()
			if k >= n {
				return
			}
		}
		t.Fatalf("fewer than %d messages acknowledged", n)
	}
	waitAcked(20)
	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()
	backup := filepath.Join(t.TempDir(), "mailsrv.backup")
	out := mustRun(t, "", "--config", conf, "backup", "--out", backup)
	if !strings.Contains(out, "wrote "+backup) || !strings.Contains(out, "not included: the config file") {
		t.Fatalf("backup: %s", out)
	}
	close(stop)
	wg.Wait()
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()

	// Refusals leave everything as it was.
	if out, code := run(t, "", "--config", conf, "restore", "--from", backup); code != 1 || !strings.Contains(out, "refusing to restore: "+data+" is not empty") {
		t.Fatalf("restore into the live data directory: exit %d %s", code, out)
	}
	raw, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "restored")
	for name, content := range map[string][]byte{
		"truncated": raw[:len(raw)*2/3],
		"foreign":   bytes.Repeat([]byte("this is not a backup\n"), 100),
		"empty":     nil,
	} {
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, content, 0o600)
		out, code := run(t, "", "--config", conf, "--data", target, "restore", "--from", p)
		if code != 1 || !strings.Contains(out, "not a complete mailsrv backup") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("restore of a %s file: exit %d %q", name, code, out)
		}
		if ents, _ := os.ReadDir(target); len(ents) != 0 {
			t.Fatalf("restore of a %s file left %d entries in the target", name, len(ents))
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(target), ".mailsrv-restore-*")); len(left) != 0 {
			t.Fatalf("restore of a %s file left %v", name, left)
		}
	}

	out = mustRun(t, "", "--config", conf, "--data", target, "restore", "--from", backup)
	if !strings.Contains(out, "restored "+backup+" into "+target) {
		t.Fatalf("restore: %s", out)
	}
	for _, f := range []string{"tls/selfsigned.crt", "tls/selfsigned.key"} {
		orig, err1 := os.ReadFile(filepath.Join(data, f))
		got, err2 := os.ReadFile(filepath.Join(target, f))
		if err1 != nil || err2 != nil || !bytes.Equal(orig, got) {
			t.Errorf("%s not restored as it was: %v %v", f, err1, err2)
		}
	}

	// Serve the restored directory and read the mail over IMAP.
	conf2 := testConfig(t, target)
	b, _ := os.ReadFile(conf2)
	os.WriteFile(conf2, []byte(strings.Replace(string(b), `level = "error"`, `level = "info"`, 1)), 0o600)
	srv2 := startServe(t, conf2)
	defer func() { srv2.cmd.Process.Signal(syscall.SIGTERM); srv2.cmd.Wait() }()
	c, err := imapclient.DialTLS(srv2.addrs["imaps"], &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice@example.com", pw).Wait(); err != nil {
		t.Fatalf("login with the restored password: %v", err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages == 0 {
		t.Fatalf("select: %v %+v", err, sel)
	}
	msgs, err := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: sel.NumMessages}}, &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, m := range msgs {
		have[m.Envelope.MessageID] = true
	}
	for _, id := range before {
		if !have[id] {
			t.Errorf("message %s, acknowledged before the backup, is not in the restored mailbox", id)
		}
	}
	t.Logf("%d acknowledged before the backup, %d in the restored INBOX", len(before), len(msgs))
}
