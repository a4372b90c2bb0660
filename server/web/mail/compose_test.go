package mail_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"mailsrv/server/config"
	"mailsrv/server/web/mail"
)

// send posts the compose form; files maps attachment names to contents.
func (c *client) send(account string, fields map[string]string, files map[string]string) (int, []byte) {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for name, content := range files {
		w, _ := mw.CreateFormFile("attachment", name)
		w.Write([]byte(content))
	}
	mw.Close()
	req, _ := http.NewRequest("POST", c.base+"/api/mail/"+account+"/send", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("X-CSRF-Token", c.csrf)
	resp, b := c.do(req)
	return resp.StatusCode, b
}

func (f *fixture) list(t *testing.T, c *client, account, folder string) mail.List {
	t.Helper()
	var l mail.List
	c.getJSON("/api/mail/"+account+"/messages?folder="+folder, &l)
	return l
}

func TestComposeThroughTheSubmissionPipeline(t *testing.T) {
	f := newFixture(t)
	alice, bob := f.login(t, "alice"), f.login(t, "bob")

	// alice sends as info@ (send right): bob gets it, info@'s Sent keeps
	// one copy, the audit log has the send-as, DKIM signed it.
	st, b := alice.send("info@example.com", map[string]string{"from": "info@example.com", "to": "Bob <bob@example.com>",
		"subject": "Team news", "text": "Hello from the team."}, map[string]string{"notes.txt": "attached text"})
	var res mail.SendResult
	json.Unmarshal(b, &res)
	if st != 200 || res.As != "send-as info@example.com" || res.MessageID == "" {
		t.Fatalf("send as info@: %d %s", st, b)
	}
	in := f.list(t, bob, "bob@example.com", "INBOX")
	if in.Total != 1 || in.Messages[0].Subject != "Team news" || in.Messages[0].From != "info@example.com" {
		t.Fatalf("bob's INBOX: %+v", in)
	}
	var v mail.View
	bob.getJSON(fmt.Sprintf("/api/mail/bob@example.com/message?folder=INBOX&uid=%d", in.Messages[0].UID), &v)
	if !strings.Contains(v.Text, "Hello from the team.") || len(v.Attachments) != 1 || v.Attachments[0].Filename != "notes.txt" {
		t.Errorf("received view: %+v", v)
	}
	resp, raw := bob.get(fmt.Sprintf("/api/mail/bob@example.com/raw?folder=INBOX&uid=%d", in.Messages[0].UID))
	if resp.StatusCode != 200 || !strings.Contains(string(raw), "DKIM-Signature:") || !strings.Contains(string(raw), "Received: from webmail") {
		t.Errorf("no DKIM signature or Received in:\n%s", raw)
	}
	if sent := f.list(t, alice, "info@example.com", "Sent"); sent.Total != 1 {
		t.Errorf("info@ Sent has %d messages, want 1", sent.Total)
	}
	infoMB, _ := f.st.MailboxByAddress(t.Context(), "info@example.com")
	log, _ := f.st.AuditLog(t.Context(), infoMB.ID, time.Time{})
	found := false
	for _, e := range log {
		found = found || e.Actor == "alice@example.com" && e.Action == "send-as"
	}
	if !found {
		t.Errorf("no send-as audit entry: %+v", log)
	}

	// bob has only read on info@: refused with the reason, nothing sent.
	st, b = bob.send("info@example.com", map[string]string{"from": "info@example.com", "to": "alice@example.com", "subject": "x", "text": "x"}, nil)
	if st != http.StatusForbidden || !strings.Contains(errorOf(b), "send") {
		t.Errorf("bob as info@: %d %s", st, b)
	}
	if in := f.list(t, alice, "alice@example.com", "INBOX"); in.Total != 0 {
		t.Errorf("refused mail arrived: %+v", in)
	}
	// Someone else's address, an unknown local recipient, no recipient.
	for _, tc := range []struct {
		fields map[string]string
		status int
	}{
		{map[string]string{"from": "carol@example.com", "to": "bob@example.com"}, 403},
		{map[string]string{"to": "nobody@example.com"}, 400},
		{map[string]string{"to": ""}, 400},
		{map[string]string{"to": "not an address <"}, 400},
	} {
		if st, b := alice.send("alice@example.com", tc.fields, nil); st != tc.status || errorOf(b) == "" {
			t.Errorf("%v: %d %s, want %d", tc.fields, st, b, tc.status)
		}
	}

	// A personal send keeps alice's own Sent copy; a reply marks the
	// original \Answered.
	uid := f.deliver(t, "alice@example.com", "INBOX", msg("x@remote.example", "alice@example.com", "Question", "?"))
	st, b = alice.send("alice@example.com", map[string]string{"to": "bob@example.com", "subject": "Re: Question", "text": "answer",
		"in_reply_to": "q@remote.example", "reply_folder": "INBOX", "reply_uid": fmt.Sprint(uid)}, nil)
	if st != 200 {
		t.Fatalf("personal send: %d %s", st, b)
	}
	if sent := f.list(t, alice, "alice@example.com", "Sent"); sent.Total != 1 || sent.Messages[0].Subject != "Re: Question" {
		t.Errorf("alice's Sent: %+v", sent)
	}
	if l := f.list(t, alice, "alice@example.com", "INBOX"); !l.Messages[0].Answered {
		t.Errorf("original not \\Answered: %+v", l.Messages[0])
	}

	// Drafts go to the viewed account's Drafts, not out.
	if st, b := alice.send("info@example.com", map[string]string{"from": "info@example.com", "to": "bob@example.com", "subject": "later", "draft": "1"}, nil); st != 200 {
		t.Fatalf("draft: %d %s", st, b)
	}
	if d := f.list(t, alice, "info@example.com", "Drafts"); d.Total != 1 || d.Messages[0].Subject != "later" {
		t.Errorf("info@ Drafts: %+v", d)
	}
	if st, _ := bob.send("info@example.com", map[string]string{"to": "x@example.com", "draft": "1"}, nil); st != http.StatusForbidden {
		t.Errorf("bob's draft in info@: %d", st)
	}
}

func TestComposeTooLargeIs413(t *testing.T) {
	f := newFixture(t, func(c *config.Config) { c.Limits.MaxMessageBytes = 64 << 10 })
	alice := f.login(t, "alice")
	st, b := alice.send("alice@example.com", map[string]string{"to": "bob@example.com", "subject": "big"},
		map[string]string{"big.bin": strings.Repeat("x", 60<<10)}) // base64 makes it > 64 KiB
	if st != http.StatusRequestEntityTooLarge || !strings.Contains(errorOf(b), "larger") {
		t.Errorf("oversize: %d %s", st, b)
	}
	st, b = alice.send("alice@example.com", map[string]string{"to": "bob@example.com", "subject": "huge"},
		map[string]string{"huge.bin": strings.Repeat("x", 2<<20)}) // refused from Content-Length
	if st != http.StatusRequestEntityTooLarge {
		t.Errorf("huge: %d %s", st, b)
	}
	if st, b := alice.send("alice@example.com", map[string]string{"to": "bob@example.com", "subject": "small"}, map[string]string{"s.txt": "ok"}); st != 200 {
		t.Errorf("small: %d %s", st, b)
	}
}
