package mail_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"mailsrv/server/web/mail"
	"mailsrv/store"
)

func TestAccountsFoldersAndUnreadCounts(t *testing.T) {
	f := newFixture(t)
	f.sendMX(t, "x@remote.example", "info@example.com", msg("X <x@remote.example>", "info@example.com", "Hello info", "hi"))
	f.deliver(t, "alice@example.com", "INBOX", msg("y@remote.example", "alice@example.com", "Hello alice", "hi"))
	f.deliver(t, "alice@example.com", "INBOX", msg("y@remote.example", "alice@example.com", "Again", "hi"))
	alice := f.login(t, "alice")
	var accts []mail.Account
	alice.getJSON("/api/mail/accounts", &accts)
	if len(accts) != 2 {
		t.Fatalf("accounts = %+v", accts)
	}
	if a := accts[0]; a.Address != "alice@example.com" || a.Shared || a.Unread != 2 || !a.Rights.Manage {
		t.Errorf("personal account = %+v", a)
	}
	if a := accts[1]; a.Address != "info@example.com" || !a.Shared || a.Unread != 1 || !a.Rights.Manage || !a.Rights.Send {
		t.Errorf("shared account = %+v", a)
	}
	var folders []mail.FolderInfo
	alice.getJSON("/api/mail/info@example.com/folders", &folders)
	var names []string
	for _, fo := range folders {
		names = append(names, fo.Name)
	}
	if len(names) < 4 || names[0] != "INBOX" || names[1] != "Drafts" || names[2] != "Sent" || folders[0].Unread != 1 {
		t.Errorf("folders = %v (%+v)", names, folders)
	}

	bob := f.login(t, "bob")
	bob.getJSON("/api/mail/accounts", &accts)
	if len(accts) != 2 || accts[1].Rights.Manage || !accts[1].Rights.Read {
		t.Errorf("bob's accounts = %+v", accts)
	}
	carol := f.login(t, "carol")
	carol.getJSON("/api/mail/accounts", &accts)
	if len(accts) != 1 {
		t.Errorf("carol sees %+v", accts)
	}
	for _, path := range []string{"/api/mail/info@example.com/folders", "/api/mail/alice@example.com/messages"} {
		if resp, b := carol.get(path); resp.StatusCode != http.StatusNotFound || errorOf(b) == "" {
			t.Errorf("carol GET %s = %d %s, want 404 with a sentence", path, resp.StatusCode, b)
		}
	}
	// No session: 401, not the data.
	anon := &client{t: t, base: f.httpURL, hc: http.DefaultClient}
	if resp, _ := anon.get("/api/mail/accounts"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous accounts = %d", resp.StatusCode)
	}
}

func TestMessageListPagesNewestFirst(t *testing.T) {
	f := newFixture(t)
	for i := 1; i <= 120; i++ {
		f.deliver(t, "alice@example.com", "INBOX", fmt.Sprintf("From: s%d@remote.example\r\nSubject: number %d\r\nDate: %s\r\n\r\nbody\r\n",
			i, i, time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC).Format(time.RFC1123Z)))
	}
	alice := f.login(t, "alice")
	var l mail.List
	alice.getJSON("/api/mail/alice@example.com/messages?folder=INBOX", &l)
	if l.Total != 120 || l.Pages != 3 || len(l.Messages) != 50 || l.Messages[0].Subject != "number 120" || l.Messages[49].Subject != "number 71" {
		t.Fatalf("page 0: total %d pages %d len %d first %+v", l.Total, l.Pages, len(l.Messages), l.Messages[0])
	}
	if l.Messages[0].Seen || l.Messages[0].From != "s120@remote.example" {
		t.Errorf("summary = %+v", l.Messages[0])
	}
	alice.getJSON("/api/mail/alice@example.com/messages?folder=INBOX&page=2", &l)
	if len(l.Messages) != 20 || l.Messages[19].Subject != "number 1" {
		t.Errorf("page 2: %d messages, last %+v", len(l.Messages), l.Messages[len(l.Messages)-1])
	}
	alice.getJSON("/api/mail/alice@example.com/messages?folder=INBOX&page=9", &l)
	if len(l.Messages) != 0 {
		t.Errorf("page 9 has %d messages", len(l.Messages))
	}
	if resp, b := alice.get("/api/mail/alice@example.com/messages?folder=Nope"); resp.StatusCode != http.StatusNotFound || !strings.Contains(errorOf(b), "Nope") {
		t.Errorf("missing folder: %d %s", resp.StatusCode, b)
	}
}

const attachmentMsg = "From: Jane <jane@remote.example>\r\nTo: alice@example.com\r\nSubject: Report\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" +
	"--B\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe, see the report.\r\n" +
	"--B\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOf\r\n" +
	"--B--\r\n"

func TestMessageAttachmentAndRaw(t *testing.T) {
	f := newFixture(t)
	uid := f.deliver(t, "alice@example.com", "INBOX", attachmentMsg)
	alice := f.login(t, "alice")
	var v mail.View
	alice.getJSON(fmt.Sprintf("/api/mail/alice@example.com/message?folder=INBOX&uid=%d", uid), &v)
	if v.Subject != "Report" || v.From != "Jane <jane@remote.example>" || !strings.Contains(v.Text, "Grüße, see the report.") {
		t.Errorf("view = %+v", v)
	}
	if len(v.Attachments) != 1 || v.Attachments[0].Filename != "report.pdf" || v.Attachments[0].ContentType != "application/pdf" {
		t.Fatalf("attachments = %+v", v.Attachments)
	}
	// Reading marked it \Seen, through the store as IMAP's FETCH does.
	var l mail.List
	alice.getJSON("/api/mail/alice@example.com/messages", &l)
	if !l.Messages[0].Seen {
		t.Error("reading did not mark the message read")
	}
	resp, body := alice.get(fmt.Sprintf("/api/mail/alice@example.com/attachment?folder=INBOX&uid=%d&part=%d", uid, v.Attachments[0].Part))
	want, _ := base64.StdEncoding.DecodeString("JVBERi0xLjQKJcOkw7zDtsOf")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename=report.pdf` || string(body) != string(want) {
		t.Errorf("attachment: %d %q %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"), body)
	}
	resp, body = alice.get(fmt.Sprintf("/api/mail/alice@example.com/raw?folder=INBOX&uid=%d", uid))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !strings.Contains(string(body), "Gr=FC=DFe") {
		t.Errorf("raw: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, _ := alice.get(fmt.Sprintf("/api/mail/alice@example.com/attachment?folder=INBOX&uid=%d&part=7", uid)); resp.StatusCode != 404 {
		t.Errorf("missing part = %d", resp.StatusCode)
	}
}

// A message that does not parse as MIME is shown as raw text, never a 500.
func TestUnparseableMessageShowsRawText(t *testing.T) {
	f := newFixture(t)
	for _, raw := range []string{
		"From: a@remote.example\r\nContent-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\nbroken\r\n",
		"From: a@remote.example\r\nContent-Type: multipart/mixed\r\n\r\nno boundary at all\r\n",
		"this is not even a header\r\n\x00\xff\xfe",
		"From: a@remote.example\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n",
	} {
		uid := f.deliver(t, "alice@example.com", "INBOX", raw)
		alice := f.login(t, "alice")
		resp, body := alice.get(fmt.Sprintf("/api/mail/alice@example.com/message?folder=INBOX&uid=%d", uid))
		if resp.StatusCode != 200 {
			t.Errorf("%q: %d %s", raw, resp.StatusCode, body)
			continue
		}
		resp, _ = alice.get(fmt.Sprintf("/api/mail/alice@example.com/html?folder=INBOX&uid=%d", uid))
		if resp.StatusCode != 200 {
			t.Errorf("%q html: %d", raw, resp.StatusCode)
		}
	}
}

func TestSearchUsesIMAPMatcher(t *testing.T) {
	f := newFixture(t)
	f.deliver(t, "alice@example.com", "INBOX", msg("Jane Doe <jane@remote.example>", "alice@example.com", "Quarterly", "nothing"))
	f.deliver(t, "alice@example.com", "INBOX", msg("bob@remote.example", "alice@example.com", "Lunch", "nothing"))
	// The word is only in a base64 body: IMAP's BODY search decodes it.
	f.deliver(t, "alice@example.com", "INBOX", "From: c@remote.example\r\nSubject: Misc\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"+
		base64.StdEncoding.EncodeToString([]byte("the zanzibar plan"))+"\r\n")
	alice := f.login(t, "alice")
	for q, want := range map[string]string{"jane": "Quarterly", "LUNCH": "Lunch", "zanzibar": "Misc", "alice@example": ""} {
		var l mail.List
		alice.getJSON("/api/mail/alice@example.com/search?folder=INBOX&q="+url.QueryEscape(q), &l)
		if want == "" {
			if l.Total != 2 { // To: alice@example.com in the two msg() ones
				t.Errorf("search %q: %d results", q, l.Total)
			}
			continue
		}
		if l.Total != 1 || l.Messages[0].Subject != want {
			t.Errorf("search %q = %+v, want %s", q, l.Messages, want)
		}
	}
	if resp, b := alice.get("/api/mail/alice@example.com/search?q="); resp.StatusCode != 400 || errorOf(b) == "" {
		t.Errorf("empty search = %d %s", resp.StatusCode, b)
	}
}

func TestActionsFollowRightsAndAreAudited(t *testing.T) {
	f := newFixture(t)
	uid := f.deliver(t, "info@example.com", "INBOX", msg("x@remote.example", "info@example.com", "Customer", "hi"))
	uid2 := f.deliver(t, "info@example.com", "INBOX", msg("x@remote.example", "info@example.com", "Second", "hi"))
	bob, alice := f.login(t, "bob"), f.login(t, "alice")
	base := "/api/mail/info@example.com/"

	// bob (read) may mark read, nothing else; every refusal is 403 + a sentence.
	if st, b := bob.post(base+"flags", map[string]any{"folder": "INBOX", "uids": []uint32{uid}, "add": []string{`\Seen`}}); st != 200 {
		t.Errorf("bob \\Seen: %d %s", st, b)
	}
	for _, tc := range []struct {
		op   string
		args map[string]any
	}{
		{"flags", map[string]any{"folder": "INBOX", "uids": []uint32{uid}, "add": []string{`\Flagged`}}},
		{"delete", map[string]any{"folder": "INBOX", "uids": []uint32{uid}}},
		{"move", map[string]any{"folder": "INBOX", "uids": []uint32{uid}, "to": "Trash"}},
		{"empty-trash", map[string]any{}},
	} {
		st, b := bob.post(base+tc.op, tc.args)
		if st != http.StatusForbidden || !strings.Contains(errorOf(b), "manage right") {
			t.Errorf("bob %s: %d %s, want 403 naming the manage right", tc.op, st, b)
		}
	}
	// Without the CSRF token nothing happens.
	tok := alice.csrf
	alice.csrf = ""
	if st, _ := alice.post(base+"delete", map[string]any{"folder": "INBOX", "uids": []uint32{uid}}); st != http.StatusForbidden {
		t.Errorf("delete without CSRF token = %d", st)
	}
	alice.csrf = tok

	// alice (manage): flag, delete (to Trash), delete in Trash (gone), move, empty Trash.
	if st, b := alice.post(base+"flags", map[string]any{"folder": "INBOX", "uids": []uint32{uid}, "add": []string{`\Flagged`}}); st != 200 {
		t.Fatalf("alice flag: %d %s", st, b)
	}
	if st, b := alice.post(base+"delete", map[string]any{"folder": "INBOX", "uids": []uint32{uid}}); st != 200 {
		t.Fatalf("alice delete: %d %s", st, b)
	}
	var l mail.List
	alice.getJSON(base+"messages?folder=Trash", &l)
	if l.Total != 1 || l.Messages[0].Subject != "Customer" || !l.Messages[0].Flagged {
		t.Fatalf("Trash after delete = %+v", l)
	}
	if st, b := alice.post(base+"move", map[string]any{"folder": "INBOX", "uids": []uint32{uid2}, "to": "Trash"}); st != 200 {
		t.Fatalf("alice move: %d %s", st, b)
	}
	if st, b := alice.post(base+"flags", map[string]any{"folder": "INBOX", "uids": []uint32{uid}, "add": []string{`$Custom`}}); st != 400 || errorOf(b) == "" {
		t.Errorf("keyword flag = %d %s", st, b)
	}
	if st, b := alice.post(base+"empty-trash", map[string]any{}); st != 200 || !strings.Contains(string(b), `"removed":2`) {
		t.Fatalf("empty trash: %d %s", st, b)
	}
	alice.getJSON(base+"messages?folder=Trash", &l)
	if l.Total != 0 {
		t.Errorf("Trash not empty: %+v", l)
	}
	// The store audited alice's changes as it audits IMAP's (same calls).
	info, _ := f.st.MailboxByAddress(t.Context(), "info@example.com")
	log, err := f.st.AuditLog(t.Context(), info.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range log {
		if e.Actor == "alice@example.com" {
			seen[strings.Fields(e.Action)[0]] = true
		}
	}
	for _, want := range []string{"flags", "move", "expunge"} {
		if !seen[want] {
			t.Errorf("no %q entry by alice in the audit log: %+v", want, log)
		}
	}
	_ = store.FlagSeen
}
