package server

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailsrv/auth/acl"
	"mailsrv/server/config"
)

// [submission] save_sent (SPEC §3): each personal submission is also
// stored in the sender's Sent, and the client's own APPEND of it is
// recognised instead of doubled; without it (the default) Sent stays as
// the client leaves it. Mail sent as a shared address goes to that
// mailbox's Sent either way, not to the sender's.
func TestSaveSent(t *testing.T) {
	for _, on := range []bool{false, true} {
		s, _ := testServer(t, func(c *config.Config) { c.Submission.SaveSent = on })
		adminDo(t, s, "domain.add", map[string]string{"name": "example.com"})
		addUser(t, s.Store(), "alice@example.com", "alice-password")
		addUser(t, s.Store(), "bob@example.com", "bob-password")
		info, err := s.Store().CreateShared(t.Context(), "info@example.com", "Info", "", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Store().Grant(t.Context(), info.ID, "alice@example.com", acl.Read|acl.Send, 0, "admin"); err != nil {
			t.Fatal(err)
		}
		const msg = "From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: lunch\r\nMessage-ID: <lunch1@example.com>\r\n\r\nNoon?\r\n"
		sub, err := smtp.DialStartTLS(s.Addr("submission").String(), insecureTLS)
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.Auth(sasl.NewPlainClient("", "alice@example.com", "alice-password")); err != nil {
			t.Fatal(err)
		}
		if err := sub.SendMail("alice@example.com", []string{"bob@example.com"}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		asInfo := strings.Replace(strings.Replace(msg, "Alice <alice@", "Info <info@", 1), "lunch1@", "lunch2@", 1)
		if err := sub.SendMail("info@example.com", []string{"bob@example.com"}, strings.NewReader(asInfo)); err != nil {
			t.Fatal(err)
		}
		sub.Quit()

		c, err := imapclient.DialTLS(s.Addr("imaps").String(), &imapclient.Options{TLSConfig: insecureTLS})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login("alice@example.com", "alice-password").Wait(); err != nil {
			t.Fatal(err)
		}
		count := func(folder string) uint32 {
			t.Helper()
			d, err := c.Status(folder, &imap.StatusOptions{NumMessages: true, NumUnseen: true}).Wait()
			if err != nil {
				t.Fatal(err)
			}
			if *d.NumUnseen != 0 {
				t.Errorf("save_sent=%v: %s has %d unseen messages", on, folder, *d.NumUnseen)
			}
			return *d.NumMessages
		}
		want := uint32(0)
		if on {
			want = 1
		}
		if n := count("Sent"); n != want {
			t.Fatalf("save_sent=%v: alice's Sent has %d messages after sending, want %d", on, n, want)
		}
		if n := count("Shared/info@example.com/Sent"); n != 1 {
			t.Fatalf("save_sent=%v: info's Sent has %d messages, want 1", on, n)
		}
		// The client saves its own copy, as Thunderbird does.
		cmd := c.Append("Sent", int64(len(msg)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
		cmd.Write([]byte(msg))
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		if n := count("Sent"); n != 1 {
			t.Errorf("save_sent=%v: Sent has %d messages after the client's APPEND, want 1", on, n)
		}
		c.Close()
	}
}
