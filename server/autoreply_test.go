package server

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailsrv/auth/msgauth"
	"mailsrv/dns/dnstest"
	"mailsrv/server/config"
	"mailsrv/store"
)

// catcher is a remote MX (go-smtp on 127.0.0.1) that keeps what it gets.
type catcher struct {
	mu   sync.Mutex
	got  []caught
	port int
}

type caught struct {
	from, to, data string
}

func (c *catcher) NewSession(*smtp.Conn) (smtp.Session, error) { return &catchSess{c: c}, nil }

type catchSess struct {
	c        *catcher
	from, to string
}

func (s *catchSess) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *catchSess) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = to; return nil }
func (s *catchSess) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.c.mu.Lock()
	s.c.got = append(s.c.got, caught{s.from, s.to, string(b)})
	s.c.mu.Unlock()
	return nil
}
func (s *catchSess) Reset()        {}
func (s *catchSess) Logout() error { return nil }

func (c *catcher) received() []caught {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]caught(nil), c.got...)
}

func startCatcher(t *testing.T) *catcher {
	t.Helper()
	c := &catcher{}
	srv := smtp.NewServer(c)
	srv.Domain = "mx.remote.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return c
}

// remote.test passes SPF from loopback; spf-fails.test fails it.
const autoReplyZones = `
$ORIGIN remote.test.
@   3600 IN SOA ns.remote.test. admin.remote.test. 1 3600 600 86400 60
@   3600 IN MX 10 mx.remote.test.
@   3600 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"
mx  3600 IN A 127.0.0.1
`

const spfFailZone = `
$ORIGIN spf-fails.test.
@   3600 IN SOA ns.spf-fails.test. admin.spf-fails.test. 1 3600 600 86400 60
@   3600 IN MX 10 mx.remote.test.
@   3600 IN TXT "v=spf1 ip4:192.0.2.1 -all"
`

func mxSendFrom(t *testing.T, s *Server, from, to, msg string) {
	t.Helper()
	c, err := smtp.Dial(s.Addr("smtp").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail(from, []string{to}, strings.NewReader(msg)); err != nil {
		t.Fatalf("MX from %q: %v", from, err)
	}
	c.Quit()
}

// RFC 3834 auto-acknowledgement of a shared mailbox, end to end: mail
// comes in through the MX, the reply leaves through the outbound queue to
// a remote MX, DKIM-signed, from the null sender, once per sender, never
// to lists, bulk mail, robots, the null sender or mail that passed
// neither SPF nor DKIM; a copy is in info@'s Sent and the original is not
// marked \Answered by it.
func TestSharedAutoReplyRFC3834(t *testing.T) {
	dns := dnstest.StartZones(t, map[string]string{"remote.test": autoReplyZones, "spf-fails.test": spfFailZone})
	remote := startCatcher(t)
	s, _ := testServer(t, func(c *config.Config) {
		c.DNS.Resolver = dns.Addr()
		c.Outbound.Port = remote.port
		c.Outbound.RetrySchedule = []config.Duration{config.Duration(100 * time.Millisecond)}
	})
	st := s.Store()
	adminDo(t, s, "domain.add", map[string]string{"name": "example.com"})
	info, err := st.CreateShared(t.Context(), "info@example.com", "Info Desk", "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	adminDo(t, s, "shared.set", map[string]string{"address": "info@example.com", "auto_reply": "We got your mail.\nA human answers soon.\n"})

	msg := func(from, id, extra string) string {
		return "From: <" + from + ">\r\nTo: info@example.com\r\nSubject: question\r\nMessage-ID: <" + id + ">\r\n" + extra + "\r\nhello\r\n"
	}
	mxSendFrom(t, s, "c@remote.test", "info@example.com", msg("c@remote.test", "c1@remote.test", "References: <older@remote.test>\r\n"))
	waitFor(t, "the auto-reply to c", func() bool { return len(remote.received()) == 1 })
	r := remote.received()[0]
	if r.from != "" || r.to != "c@remote.test" {
		t.Errorf("envelope MAIL FROM %q RCPT %q, want <> and c@remote.test", r.from, r.to)
	}
	for _, want := range []string{"Auto-Submitted: auto-replied\r\n", "In-Reply-To: <c1@remote.test>\r\n",
		"References: <older@remote.test> <c1@remote.test>\r\n", "From: Info Desk <info@example.com>\r\n",
		"Subject: Auto: question\r\n", "A human answers soon.\r\n"} {
		if !strings.Contains(r.data, want) {
			t.Errorf("reply lacks %q:\n%s", want, r.data)
		}
	}
	checkDKIM(t, st, r.data)

	// Once per sender; none to the rest; then a sentinel that is answered.
	mxSendFrom(t, s, "c@remote.test", "info@example.com", msg("c@remote.test", "c2@remote.test", ""))
	mxSendFrom(t, s, "list@remote.test", "info@example.com", msg("list@remote.test", "l1@remote.test", "List-Id: <news.remote.test>\r\n"))
	mxSendFrom(t, s, "bulk@remote.test", "info@example.com", msg("bulk@remote.test", "b1@remote.test", "Precedence: bulk\r\n"))
	mxSendFrom(t, s, "robot@remote.test", "info@example.com", msg("robot@remote.test", "a1@remote.test", "Auto-Submitted: auto-generated\r\n"))
	mxSendFrom(t, s, "noreply@remote.test", "info@example.com", msg("noreply@remote.test", "n1@remote.test", ""))
	mxSendFrom(t, s, "MAILER-DAEMON@remote.test", "info@example.com", msg("mailer-daemon@remote.test", "d1@remote.test", ""))
	mxSendFrom(t, s, "", "info@example.com", msg("x@remote.test", "z1@remote.test", ""))
	mxSendFrom(t, s, "forged@spf-fails.test", "info@example.com", msg("forged@spf-fails.test", "f1@spf-fails.test", ""))
	mxSendFrom(t, s, "e@remote.test", "info@example.com", msg("e@remote.test", "e1@remote.test", "Auto-Submitted: no\r\n"))
	waitFor(t, "the auto-reply to e", func() bool { return len(remote.received()) >= 2 })
	time.Sleep(500 * time.Millisecond) // anything wrongly answered before e would be here by now
	var tos []string
	for _, r := range remote.received() {
		tos = append(tos, r.to)
	}
	if strings.Join(tos, " ") != "c@remote.test e@remote.test" {
		t.Errorf("auto-replies went to %q, want c and e only", tos)
	}
	sent, err := st.GetFolder(t.Context(), info.ID, "Sent")
	if err != nil || sent.Messages != 2 {
		t.Errorf("info@ Sent holds %d messages, want the 2 replies (%v)", sent.Messages, err)
	}
	q, err := st.TeamInbox(t.Context(), info.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range q {
		if m.Answered() {
			t.Errorf("%s counts as answered after an automatic reply", m.MessageID)
		}
	}
}

// checkDKIM verifies every DKIM-Signature of msg against the keys of
// example.com as `domain records` publishes them.
func checkDKIM(t *testing.T, st *store.Store, msg string) {
	t.Helper()
	dom, err := st.GetDomain(t.Context(), "example.com")
	if err != nil {
		t.Fatal(err)
	}
	records := map[string]string{}
	for _, k := range dom.DKIM {
		sg, err := msgauth.NewSigner(dom.Name, k.Selector, []byte(k.PrivateKeyPEM))
		if err != nil {
			t.Fatal(err)
		}
		records[k.Selector+"._domainkey.example.com"] = sg.DNSRecord()
	}
	vs, err := dkim.VerifyWithOptions(strings.NewReader(msg), &dkim.VerifyOptions{LookupTXT: func(name string) ([]string, error) {
		if r, ok := records[name]; ok {
			return []string{r}, nil
		}
		return nil, fmt.Errorf("no TXT at %s", name)
	}})
	if err != nil || len(vs) == 0 {
		t.Fatalf("DKIM: %v, %d signatures", err, len(vs))
	}
	for _, v := range vs {
		if v.Err != nil || v.Domain != "example.com" {
			t.Errorf("DKIM signature d=%s: %v", v.Domain, v.Err)
		}
	}
}

// Two mailsrv servers, each with a mailbox that answers automatically
// (alice@a.test on vacation, the shared info@b.test with an
// auto-acknowledgement), mail each other through their MX ports: each
// side gets exactly one automatic reply and nothing answers a reply.
func TestAutoReplyLoopStopsAfterOneEach(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	zone := func(d, ip string) string {
		return fmt.Sprintf("$ORIGIN %s.\n@ 3600 IN SOA ns.%s. admin.%s. 1 3600 600 86400 60\n@ 3600 IN MX 10 mx.%s.\n"+
			"@ 3600 IN TXT \"v=spf1 ip4:127.0.0.0/8 -all\"\nmx 3600 IN A %s\n", d, d, d, d, ip)
	}
	dns := dnstest.StartZones(t, map[string]string{"a.test": zone("a.test", "127.0.0.1"), "b.test": zone("b.test", "127.0.0.2")})
	server := func(domain, ip string) *Server {
		s, _ := testServer(t, func(c *config.Config) {
			c.Hostname = "mx." + domain
			c.Listen.SMTP = fmt.Sprintf("%s:%d", ip, port)
			c.DNS.Resolver = dns.Addr()
			c.Outbound.Port = port
			c.Outbound.RetrySchedule = []config.Duration{config.Duration(100 * time.Millisecond)}
		})
		adminDo(t, s, "domain.add", map[string]string{"name": domain})
		return s
	}
	a, b := server("a.test", "127.0.0.1"), server("b.test", "127.0.0.2")
	addUser(t, a.Store(), "alice@a.test", "alice-password")
	adminDo(t, a, "vacation.set", map[string]string{"address": "alice@a.test", "body": "I am away.", "subject": "Away"})
	info, err := b.Store().CreateShared(t.Context(), "info@b.test", "Info", "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	adminDo(t, b, "shared.set", map[string]string{"address": "info@b.test", "auto_reply": "Thanks, we got it."})

	// alice writes to info@ (as a remote sender would, through b's MX),
	// and info@ writes to alice through a's MX.
	mxSendFrom(t, b, "alice@a.test", "info@b.test", "From: alice@a.test\r\nTo: info@b.test\r\nSubject: hi info\r\nMessage-ID: <x1@a.test>\r\n\r\nhi\r\n")
	mxSendFrom(t, a, "info@b.test", "alice@a.test", "From: info@b.test\r\nTo: alice@a.test\r\nSubject: hi alice\r\nMessage-ID: <y1@b.test>\r\n\r\nhi\r\n")

	alice, _ := a.Store().User(t.Context(), "alice@a.test")
	count := func(st *store.Store, mbid uint64, folder string) uint32 {
		f, err := st.GetFolder(t.Context(), mbid, folder)
		if err != nil {
			t.Fatal(err)
		}
		return f.Messages
	}
	waitFor(t, "one automatic reply on each side", func() bool {
		return count(a.Store(), alice.MailboxID, "INBOX") == 2 && count(b.Store(), info.ID, "INBOX") == 2
	})
	time.Sleep(time.Second) // a loop would show by now
	if n, m := count(a.Store(), alice.MailboxID, "INBOX"), count(b.Store(), info.ID, "INBOX"); n != 2 || m != 2 {
		t.Errorf("INBOX counts alice %d, info %d: want 2 each (the mail and one automatic reply)", n, m)
	}
	if n, m := count(a.Store(), alice.MailboxID, "Sent"), count(b.Store(), info.ID, "Sent"); n != 1 || m != 1 {
		t.Errorf("Sent counts alice %d, info %d: want the one automatic reply each", n, m)
	}
}

// A colleague's mail through submission gets the vacation notice too,
// once, delivered locally.
func TestVacationAnswersLocalSubmission(t *testing.T) {
	s, _ := testServer(t)
	st := s.Store()
	adminDo(t, s, "domain.add", map[string]string{"name": "example.com"})
	alice := addUser(t, st, "alice@example.com", "alice-password")
	bob := addUser(t, st, "bob@example.com", "bob-password")
	carol := addUser(t, st, "carol@example.com", "carol-password")
	adminDo(t, s, "vacation.set", map[string]string{"address": "alice@example.com", "body": "Back on Monday.", "until": "2999-01-01"})
	send := func(user, pw string) {
		t.Helper()
		c, err := smtp.DialStartTLS(s.Addr("submission").String(), insecureTLS)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Auth(sasl.NewPlainClient("", user, pw)); err != nil {
			t.Fatal(err)
		}
		msg := "From: " + user + "\r\nTo: alice@example.com\r\nSubject: lunch?\r\nMessage-ID: <" + user + ".1@example.com>\r\n\r\n?\r\n"
		if err := c.SendMail(user, []string{"alice@example.com"}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		c.Quit()
	}
	inboxCount := func(a *store.Account) uint32 {
		f, err := st.GetFolder(t.Context(), a.MailboxID, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		return f.Messages
	}
	send("bob@example.com", "bob-password")
	waitFor(t, "bob's vacation notice", func() bool { return inboxCount(bob) == 1 })
	send("bob@example.com", "bob-password")
	send("carol@example.com", "carol-password")
	waitFor(t, "carol's vacation notice", func() bool { return inboxCount(carol) == 1 })
	time.Sleep(300 * time.Millisecond)
	if n := inboxCount(bob); n != 1 {
		t.Errorf("bob has %d notices after writing twice, want 1", n)
	}
	if n := inboxCount(alice); n != 3 {
		t.Errorf("alice's INBOX has %d messages, want the 3 sent", n)
	}
	sent, _ := st.GetFolder(t.Context(), alice.MailboxID, "Sent")
	if sent.Messages != 2 {
		t.Errorf("alice's Sent has %d notices, want 2", sent.Messages)
	}
}
