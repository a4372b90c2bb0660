package server

// End-to-end test of a whole mailsrv instance: every listener on a free
// loopback port, real clients (go-smtp, go-imap v2, net/http) only. It is
// the test a new contributor reads first: one message in through MX, one
// reply out as the shared mailbox through submission, both read back over
// IMAPS, including the member's Shared/ namespace.

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailsrv/auth"
	"mailsrv/auth/acl"
	"mailsrv/server/config"
	"mailsrv/store"
)

func testServer(t *testing.T, mods ...func(*config.Config)) (*Server, *config.Config) {
	t.Helper()
	cfg := config.Default()
	cfg.Hostname = "mail.example.com"
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.DNS.Resolver = "127.0.0.1:9" // nothing answers: no test touches real DNS
	cfg.Listen = config.Listen{SMTP: "127.0.0.1:0", Submission: "127.0.0.1:0", Submissions: "127.0.0.1:0",
		IMAP: "127.0.0.1:0", IMAPS: "127.0.0.1:0", HTTP: "127.0.0.1:0", Metrics: "127.0.0.1:0"}
	for _, m := range mods {
		m(cfg)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	s, err := New(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not shut down")
		}
	})
	return s, cfg
}

func addUser(t *testing.T, st *store.Store, addr, pw string) *store.Account {
	t.Helper()
	h, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.AddUser(t.Context(), addr, "", h)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var insecureTLS = &tls.Config{InsecureSkipVerify: true} // the server's self-signed certificate

// infoFixture is a running server with example.com, alice@example.com
// (password "alice-password") and the shared mailbox info@example.com, on
// which alice may read, manage and send.
func infoFixture(t *testing.T) (*Server, *store.Mailbox) {
	t.Helper()
	s, _ := testServer(t)
	// Through the admin handler, as `mailsrv domain add` does: creates DKIM keys.
	adminDo(t, s, "domain.add", map[string]string{"name": "example.com"})
	addUser(t, s.Store(), "alice@example.com", "alice-password")
	info, err := s.Store().CreateShared(t.Context(), "info@example.com", "Info", "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Store().Grant(t.Context(), info.ID, "alice@example.com", acl.Read|acl.Manage|acl.Send, 0, "admin"); err != nil {
		t.Fatal(err)
	}
	return s, info
}

func TestEndToEnd(t *testing.T) {
	s, info := infoFixture(t)
	st := s.Store()
	addUser(t, st, "bob@example.com", "bob-password")

	// 1. A customer writes to info@ through the MX port.
	mx, err := smtp.Dial(s.Addr("smtp").String())
	if err != nil {
		t.Fatal(err)
	}
	if err := mx.SendMail("carol@customer.example", []string{"info@example.com"}, strings.NewReader(
		"From: carol@customer.example\r\nTo: info@example.com\r\nSubject: order 42\r\nMessage-ID: <q1@customer.example>\r\n\r\nWhere is my order?\r\n")); err != nil {
		t.Fatalf("MX: %v", err)
	}
	mx.Quit()
	// Relaying through the MX port is refused.
	mx, _ = smtp.Dial(s.Addr("smtp").String())
	mx.Hello("test")
	mx.Mail("carol@customer.example", nil)
	if err := mx.Rcpt("someone@elsewhere.example", nil); err == nil || !strings.Contains(strings.ToLower(err.Error()), "relay not permitted") {
		t.Fatalf("open relay: %v", err)
	}
	mx.Close()

	// 2. Alice replies as info@ through submission (STARTTLS + AUTH PLAIN).
	sub, err := smtp.DialStartTLS(s.Addr("submission").String(), insecureTLS)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Auth(sasl.NewPlainClient("", "alice@example.com", "alice-password")); err != nil {
		t.Fatalf("AUTH: %v", err)
	}
	if err := sub.SendMail("info@example.com", []string{"bob@example.com"}, strings.NewReader(
		"From: Info <info@example.com>\r\nTo: bob@example.com\r\nSubject: Re: order 42\r\n\r\nShipped today.\r\n")); err != nil {
		t.Fatalf("submission: %v", err)
	}
	sub.Quit()

	// 3. Alice reads over IMAPS: her own INBOX and the shared mailbox.
	c, err := imapclient.DialTLS(s.Addr("imaps").String(), &imapclient.Options{TLSConfig: insecureTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice@example.com", "alice-password").Wait(); err != nil {
		t.Fatalf("IMAP login: %v", err)
	}
	names := listNames(t, c)
	for _, want := range []string{"INBOX", "Sent", "Shared/info@example.com/INBOX", "Shared/info@example.com/Sent"} {
		if !slices.Contains(names, want) {
			t.Fatalf("LIST lacks %s: %v", want, names)
		}
	}
	for folder, subject := range map[string]string{"Shared/info@example.com/INBOX": "order 42", "Shared/info@example.com/Sent": "Re: order 42"} {
		if _, err := c.Select(folder, nil).Wait(); err != nil {
			t.Fatalf("SELECT %s: %v", folder, err)
		}
		msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true}).Collect()
		if err != nil || len(msgs) != 1 || msgs[0].Envelope.Subject != subject {
			t.Fatalf("%s: %v %+v", folder, err, msgs)
		}
	}

	// 4. Bob got the reply, with a DKIM signature and from info@.
	b, err := imapclient.DialTLS(s.Addr("imaps").String(), &imapclient.Options{TLSConfig: insecureTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Login("bob@example.com", "bob-password").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	section := &imap.FetchItemBodySection{}
	msgs, err := b.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("bob fetch: %v %d", err, len(msgs))
	}
	raw := string(msgs[0].FindBodySection(section))
	if !strings.Contains(raw, "DKIM-Signature:") || !strings.Contains(raw, "From: Info <info@example.com>") || !strings.Contains(raw, "Shipped today.") {
		t.Fatalf("bob's message:\n%s", raw)
	}

	// 5. The audit log recorded the send-as; the metrics saw the MX delivery.
	log, _ := st.AuditLog(t.Context(), info.ID, time.Time{})
	if !slices.ContainsFunc(log, func(e store.AuditEntry) bool {
		return e.Actor == "alice@example.com" && strings.HasPrefix(e.Action, "send")
	}) {
		t.Fatalf("audit: %+v", log)
	}
	resp, err := http.Get("http://" + s.Addr("metrics").String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `listener="smtp"`) {
		t.Fatalf("metrics lack the smtp delivery:\n%.2000s", body)
	}
}

// Autoconfig describes the ports the server really listens on, so a
// client on the same machine as a loopback trial server sets itself up.
func TestAutoconfigAdvertisesBoundPorts(t *testing.T) {
	s, _ := testServer(t)
	if err := s.Store().AddDomain(t.Context(), store.Domain{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.Addr("http").String() + "/mail/config-v1.1.xml?emailaddress=alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"imaps", "submissions", "submission"} {
		port := s.Addr(name).(*net.TCPAddr).Port
		if !strings.Contains(string(body), fmt.Sprintf("<port>%d</port>", port)) {
			t.Errorf("autoconfig lacks the %s port %d:\n%s", name, port, body)
		}
	}
}
