package imapd

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"mailsrv/auth"
	"mailsrv/auth/login"
	"mailsrv/server/config"
	"mailsrv/server/metrics"
)

func TestLoginListSelectFetchStoreExpungeMoveAppend(t *testing.T) {
	e := newEnv(t)
	alice := e.mailbox("alice@example.com")
	for i := 1; i <= 3; i++ {
		e.deliver(alice, "INBOX", testMessage(i))
	}
	c, _ := e.dial("alice@example.com")

	// LIST: default folders with SPECIAL-USE, and the shared namespace.
	names := listNames(t, c)
	for name, attr := range map[string]imap.MailboxAttr{"Sent": imap.MailboxAttrSent, "Drafts": imap.MailboxAttrDrafts,
		"Trash": imap.MailboxAttrTrash, "Junk": imap.MailboxAttrJunk, "Archive": imap.MailboxAttrArchive} {
		if d := names[name]; d == nil || !hasAttr(d, attr) {
			t.Errorf("LIST %s: %+v", name, d)
		}
	}
	if names["INBOX"] == nil || names["Shared/info@example.com/INBOX"] == nil {
		t.Fatalf("LIST lacks INBOX or shared INBOX: %v", names)
	}
	if d := names["Shared"]; d == nil || !hasAttr(d, imap.MailboxAttrNoSelect) {
		t.Errorf("Shared node: %+v", d)
	}
	ns, err := c.Namespace().Wait()
	if err != nil || len(ns.Shared) != 1 || ns.Shared[0].Prefix != "Shared/" || ns.Personal[0].Prefix != "" {
		t.Fatalf("NAMESPACE %+v %v", ns, err)
	}

	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != 3 || sel.UIDNext != 4 || len(sel.PermanentFlags) == 0 {
		t.Fatalf("SELECT %+v %v", sel, err)
	}

	// FETCH envelope, size, flags, body and a partial.
	whole := &imap.FetchItemBodySection{Peek: true}
	partial := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 6, Size: 6}}
	hdr := &imap.FetchItemBodySection{Peek: true, Specifier: imap.PartSpecifierHeader}
	msgs, err := c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{
		UID: true, Flags: true, Envelope: true, RFC822Size: true, InternalDate: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{whole, partial, hdr},
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH %v %v", msgs, err)
	}
	m := msgs[0]
	if m.UID != 2 || m.Envelope == nil || m.Envelope.Subject != "message 2" || m.Envelope.From[0].Host != "remote.example" ||
		m.Envelope.MessageID != "m2@remote.example" {
		t.Fatalf("envelope %+v", m.Envelope)
	}
	if got := string(m.FindBodySection(whole)); got != testMessage(2) || m.RFC822Size != int64(len(testMessage(2))) {
		t.Fatalf("BODY[] %q size %d", got, m.RFC822Size)
	}
	if got := string(m.FindBodySection(partial)); got != "Sender" {
		t.Fatalf("BODY[]<6.6> = %q", got)
	}
	if got := string(m.FindBodySection(hdr)); !strings.HasSuffix(got, "\r\n\r\n") || strings.Contains(got, "body of") {
		t.Fatalf("BODY[HEADER] = %q", got)
	}
	if m.BodyStructure == nil || m.BodyStructure.MediaType() != "text/plain" {
		t.Fatalf("BODYSTRUCTURE %+v", m.BodyStructure)
	}
	if len(m.Flags) != 1 || m.Flags[0] != `\Recent` { // the first SELECT after delivery
		t.Fatalf("peek set flags: %v", m.Flags)
	}
	// A non-peek fetch marks \Seen.
	if _, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect(); err != nil {
		t.Fatal(err)
	}
	if f, _ := e.st.FlagsOf(t.Context(), sel2fid(t, e, alice, "INBOX"), []uint32{1}); len(f) != 1 || !hasFlag(f[0].Flags, `\Seen`) {
		t.Fatalf("BODY[] did not set \\Seen: %+v", f)
	}

	// SEARCH on envelope, flags and body text.
	res, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "sender3@"}}}, nil).Wait()
	if err != nil || len(res.AllUIDs()) != 1 || res.AllUIDs()[0] != 3 {
		t.Fatalf("UID SEARCH FROM %+v %v", res, err)
	}
	res, err = c.Search(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}, Body: []string{"MESSAGE 2"}}, nil).Wait()
	if err != nil || len(res.AllSeqNums()) != 1 || res.AllSeqNums()[0] != 2 {
		t.Fatalf("SEARCH UNSEEN BODY %+v %v", res, err)
	}

	// STORE then EXPUNGE.
	st, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect()
	if err != nil || len(st) != 1 || !containsFlag(st[0].Flags, imap.FlagDeleted) {
		t.Fatalf("STORE %+v %v", st, err)
	}
	exp, err := c.Expunge().Collect()
	if err != nil || len(exp) != 1 || exp[0] != 1 {
		t.Fatalf("EXPUNGE %v %v", exp, err)
	}

	// MOVE (UID 3, now seq 2) to Archive with COPYUID.
	mv, err := c.Move(imap.UIDSetNum(3), "Archive").Wait()
	if err != nil || mv.UIDValidity == 0 || mv.DestUIDs == nil {
		t.Fatalf("MOVE %+v %v", mv, err)
	}
	if f, _ := e.st.GetFolder(t.Context(), alice, "INBOX"); f.Messages != 1 {
		t.Fatalf("INBOX has %d after move", f.Messages)
	}

	// APPEND with flags and date, CREATE/RENAME/DELETE, STATUS.
	if err := c.Create("Projects/2024", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	body := testMessage(9)
	date := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	ap := c.Append("Projects/2024", int64(len(body)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagFlagged}, Time: date})
	ap.Write([]byte(body))
	ap.Close()
	ad, err := ap.Wait()
	if err != nil || ad.UID != 1 || ad.UIDValidity == 0 {
		t.Fatalf("APPEND %+v %v", ad, err)
	}
	if err := c.Rename("Projects/2024", "Projects/Done", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	sd, err := c.Status("Projects/Done", &imap.StatusOptions{NumMessages: true, UIDNext: true, NumUnseen: true, Size: true, NumDeleted: true, AppendLimit: true}).Wait()
	if err != nil || *sd.NumMessages != 1 || sd.UIDNext != 2 || *sd.NumUnseen != 1 || *sd.Size != int64(len(body)) {
		t.Fatalf("STATUS %+v %v", sd, err)
	}
	if _, err := c.Select("Projects/Done", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{whole}}).Collect()
	if err != nil || len(got) != 1 || !got[0].InternalDate.Equal(date) || !containsFlag(got[0].Flags, imap.FlagFlagged) ||
		!bytes.Equal(got[0].FindBodySection(whole), []byte(body)) {
		t.Fatalf("appended message %+v %v", got, err)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("Projects/Done").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("Projects/Done", nil).Wait(); err == nil {
		t.Fatal("deleted folder still selectable")
	}
	// APPEND to a missing folder answers TRYCREATE rather than landing in INBOX.
	ap = c.Append("Nope", 3, nil)
	ap.Write([]byte("x\r\n"))
	ap.Close()
	if _, err := ap.Wait(); err == nil {
		t.Fatal("APPEND to missing folder succeeded")
	} else {
		wantCode(t, "APPEND missing", err, imap.ResponseCodeTryCreate)
	}
}

func sel2fid(t *testing.T, e *env, mbid uint64, name string) uint64 {
	t.Helper()
	f, err := e.st.GetFolder(t.Context(), mbid, name)
	if err != nil {
		t.Fatal(err)
	}
	return f.ID
}

func containsFlag(l []imap.Flag, f imap.Flag) bool {
	for _, x := range l {
		if strings.EqualFold(string(x), string(f)) {
			return true
		}
	}
	return false
}

func TestLoginFailuresAndTLSRequirement(t *testing.T) {
	e := newEnv(t)
	c, _ := e.dial("")
	if err := c.Login("alice@example.com", "wrong").Wait(); err == nil {
		t.Fatal("wrong password accepted")
	}
	if err := c.Login("nobody@example.com", testPassword).Wait(); err == nil {
		t.Fatal("unknown user accepted")
	}
	if err := c.Login("info@example.com", testPassword).Wait(); err != nil {
		t.Fatalf("shared mailbox own-password login: %v", err)
	}
	// The shared mailbox is the root with all rights.
	names := listNames(t, c)
	if names["INBOX"] == nil || names["Shared"] != nil {
		t.Fatalf("shared self-login names %v", names)
	}
	if err := c.Create("Team", nil).Wait(); err != nil {
		t.Fatalf("shared self-login CREATE: %v", err)
	}
}

func TestAuthenticatePlainAuthzidIsDelegateLogin(t *testing.T) {
	e := newEnv(t)
	e.deliver(e.info.ID, "INBOX", testMessage(1))
	c, _ := e.dial("")
	if err := c.Authenticate(sasl.NewPlainClient("info@example.com", "carol@example.com", testPassword)); err != nil {
		t.Fatalf("AUTHENTICATE PLAIN with authzid: %v", err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != 1 {
		t.Fatalf("delegate INBOX %+v %v", sel, err)
	}
	c2, _ := e.dial("")
	if err := c2.Authenticate(sasl.NewPlainClient("info@example.com", "dave@example.com", testPassword)); err == nil {
		t.Fatal("authzid without rights accepted")
	}
}

func TestConnectionAndAuthFailureLimits(t *testing.T) {
	e := newEnv(t)
	e.srv.Close()
	e.start(Options{Limits: config.Limits{MaxMessageBytes: 1 << 20, AuthFailuresPerMinute: 3,
		MaxConnectionsPerIP: 3, MaxIMAPConnectionsPerUser: 1}})

	// Per user: a second session of alice is refused at login.
	e.dial("alice@example.com")
	c, _ := e.dial("")
	wantCode(t, "second login", c.Login("alice@example.com", testPassword).Wait(), imap.ResponseCodeLimit)

	// Per IP: two connections are open; the third is served, the 4th
	// gets BYE.
	c3, _ := e.dial("")
	if err := c3.Noop().Wait(); err != nil {
		t.Fatalf("3rd connection: %v", err)
	}
	c4, err := imapclient.DialInsecure(e.addr, nil)
	if err == nil {
		defer c4.Close()
		if err := c4.Noop().Wait(); err == nil {
			t.Fatal("connection over the per-IP limit served")
		}
	}

	// Auth failures slow further attempts down and close the connection
	// after auth.MaxFailuresPerConnection; they never lock the account
	// (issue 12 #6): the right password still works afterwards.
	e.srv.Close()
	var slept atomic.Int64 // a clock whose sleeps pass at once
	start := time.Now()
	now := func() time.Time { return start.Add(time.Duration(slept.Load())) }
	th := auth.NewThrottle(3, now, func(_ context.Context, d time.Duration) error { slept.Add(int64(d)); return nil })
	e.start(Options{Limits: config.Limits{MaxMessageBytes: 1 << 20, AuthFailuresPerMinute: 3}, Login: login.New(e.st, nil, th)})
	c, _ = e.dial("")
	for i := 0; i < 3; i++ {
		if err := c.Login("bob@example.com", "wrong").Wait(); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	if err := c.Noop().Wait(); err == nil {
		t.Fatal("connection still open after 3 failed logins")
	}
	if slept.Load() == 0 {
		t.Error("failed logins were not delayed")
	}
	c, _ = e.dial("")
	if err := c.Login("bob@example.com", testPassword).Wait(); err != nil {
		t.Fatalf("right password after failures: %v", err)
	}
}

func TestAppendLimit(t *testing.T) {
	e := newEnv(t)
	e.srv.Close()
	// Above 4096 bytes the client sends a synchronising literal, which the
	// server refuses before reading it.
	e.start(Options{Limits: config.Limits{MaxMessageBytes: 5000, AuthFailuresPerMinute: 100}})
	c, _ := e.dial("alice@example.com")
	if caps, err := c.Capability().Wait(); err != nil || !caps.Has("APPENDLIMIT=5000") {
		t.Fatalf("caps %v %v", caps, err)
	}
	err := appendMsg(c, "INBOX", strings.Repeat("x", 5001))
	wantCode(t, "APPEND over limit", err, imap.ResponseCodeTooBig)
	// go-imap's client gives up the connection after a refused literal.
	c, _ = e.dial("bob@example.com")
	if err := appendMsg(c, "INBOX", "Subject: ok\r\n\r\nsmall\r\n"); err != nil {
		t.Fatal(err)
	}
}

func TestDirectFlagsResponseFormat(t *testing.T) {
	got := string(appendFlagsResponse(nil, 3, 42, []string{`\Seen`, "$Label1"}, 0))
	if got != "* 3 FETCH (UID 42 FLAGS (\\Seen $Label1))\r\n" {
		t.Fatalf("got %q", got)
	}
	if got := string(appendFlagsResponse(nil, 1, 1, nil, 0)); got != "* 1 FETCH (UID 1 FLAGS ())\r\n" {
		t.Fatalf("got %q", got)
	}
	for flags, ok := range map[string]bool{`\Seen $Junk`: true, `a"b`: false, `x]`: false, `ü`: false, `\`: false} {
		if atomFlags(strings.Fields(flags)) != ok {
			t.Errorf("atomFlags(%q) != %v", flags, ok)
		}
	}
}

func TestMetricsCountConnectionsCommandsAndAuthFailures(t *testing.T) {
	e := newEnv(t)
	e.srv.Close()
	m := metrics.New()
	e.start(Options{Metrics: m})
	c, _ := e.dial("alice@example.com")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	bad, _ := e.dial("")
	bad.Login("alice@example.com", "wrong").Wait()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range fams {
		for _, mm := range f.GetMetric() {
			for _, l := range mm.GetLabel() {
				seen[f.GetName()+"/"+l.GetValue()] = true
			}
		}
	}
	for _, want := range []string{"mailsrv_imap_command_duration_seconds/SELECT", "mailsrv_auth_failures_total/imap", "mailsrv_connections_open/imap"} {
		if !seen[want] {
			t.Errorf("metric %s missing; have %v", want, seen)
		}
	}
}

const multipartMsg = "From: a@remote.example\r\nTo: alice@example.com\r\nSubject: parts\r\nMIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhello part one\r\n" +
	"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gYmluYXJ5\r\n--XX--\r\n"

func TestFetchSectionsOfMultipart(t *testing.T) {
	e := newEnv(t)
	e.deliver(e.mailbox("alice@example.com"), "INBOX", multipartMsg)
	c, _ := e.dial("alice@example.com")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	part1 := &imap.FetchItemBodySection{Part: []int{1}, Peek: true}
	fields := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}, Peek: true}
	bin := &imap.FetchItemBinarySection{Part: []int{2}, Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{part1, fields},
		BinarySection: []*imap.FetchItemBinarySection{bin},
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("FETCH %v %v", msgs, err)
	}
	m := msgs[0]
	if got := string(m.FindBodySection(part1)); got != "hello part one" {
		t.Errorf("BODY[1] = %q", got)
	}
	if got := string(m.FindBodySection(fields)); got != "Subject: parts\r\n\r\n" {
		t.Errorf("BODY[HEADER.FIELDS (Subject)] = %q", got)
	}
	if got := string(m.FindBinarySection(bin)); got != "hello binary" {
		t.Errorf("BINARY[2] = %q", got)
	}
	mp, ok := m.BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || len(mp.Children) != 2 || mp.Subtype != "mixed" {
		t.Errorf("BODYSTRUCTURE %#v", m.BodyStructure)
	}
}

// Successful logins are cached (auth.Verifier), but a password change
// ends the old password at once, even for a client that just used it.
func TestPasswordChangeBeatsLoginCache(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 2; i++ { // the second login is served from the cache
		c, _ := e.dial("")
		if err := c.Login("bob@example.com", testPassword).Wait(); err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	hash, err := auth.HashPassword("new secret")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetPassword(t.Context(), "bob@example.com", hash); err != nil {
		t.Fatal(err)
	}
	c, _ := e.dial("")
	if err := c.Login("bob@example.com", testPassword).Wait(); err == nil {
		t.Fatal("old password accepted after the change")
	}
	if err := c.Login("bob@example.com", "new secret").Wait(); err != nil {
		t.Fatalf("new password: %v", err)
	}
}
