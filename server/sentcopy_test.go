package server

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Outlook or a phone logged in as the shared mailbox (delegate login) sends
// as info@ and then APPENDs its own copy to Sent, where the server already
// keeps one (SPEC §6): the APPEND answers with the existing UID instead of
// doubling every sent message. Other APPENDs are stored as usual.
func TestAppendToSentReusesTheSubmittedCopy(t *testing.T) {
	s, _ := infoFixture(t)
	const msg = "From: Info <info@example.com>\r\nTo: alice@example.com\r\nSubject: Re: order 42\r\nMessage-ID: <reply42@example.com>\r\n\r\nShipped today.\r\n"
	sub, err := smtp.DialStartTLS(s.Addr("submission").String(), insecureTLS)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Auth(sasl.NewPlainClient("", `alice@example.com\info@example.com`, "alice-password")); err != nil {
		t.Fatalf("AUTH: %v", err)
	}
	if err := sub.SendMail("info@example.com", []string{"alice@example.com"}, strings.NewReader(msg)); err != nil {
		t.Fatalf("submission: %v", err)
	}
	sub.Quit()

	c, err := imapclient.DialTLS(s.Addr("imaps").String(), &imapclient.Options{TLSConfig: insecureTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(`alice@example.com\info@example.com`, "alice-password").Wait(); err != nil {
		t.Fatal(err)
	}
	appendTo := func(folder, body string) imap.UID {
		t.Helper()
		cmd := c.Append(folder, int64(len(body)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}})
		cmd.Write([]byte(body))
		cmd.Close()
		d, err := cmd.Wait()
		if err != nil {
			t.Fatalf("APPEND to %s: %v", folder, err)
		}
		return d.UID
	}
	count := func(folder string) uint32 {
		t.Helper()
		d, err := c.Status(folder, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		return *d.NumMessages
	}
	if n := count("Sent"); n != 1 {
		t.Fatalf("Sent has %d messages after sending, want the server's copy", n)
	}
	if uid := appendTo("Sent", msg); uid != 1 || count("Sent") != 1 {
		t.Fatalf("client's copy: APPENDUID %d, Sent has %d messages; want the existing UID 1 and one message", uid, count("Sent"))
	}
	// A different message, or the same one into another folder, is stored.
	other := strings.Replace(msg, "reply42@", "reply43@", 1)
	if uid := appendTo("Sent", other); uid != 2 || count("Sent") != 2 {
		t.Fatalf("other message: APPENDUID %d, Sent has %d", uid, count("Sent"))
	}
	if appendTo("Drafts", msg); count("Drafts") != 1 {
		t.Fatal("APPEND to Drafts was not stored")
	}
	// Appending the same client copy twice is not deduplicated: only the
	// server's own SMTP copy is recognised.
	appendTo("Sent", other)
	if n := count("Sent"); n != 3 {
		t.Fatalf("Sent has %d messages, want 3", n)
	}
}
