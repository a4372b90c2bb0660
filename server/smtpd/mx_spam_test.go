package smtpd

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailsrv/dns/dnstest"
	"mailsrv/internal/testkit"
	"mailsrv/server/config"
	"mailsrv/server/spam"
	"mailsrv/server/spam/spamtest"
)

// withSpam gives the MX env a spam filter with cfg (the DNSBL resolver
// is dnsAddr when set).
func withSpam(cfg config.Spam, dnsAddr string) envOpt {
	return func(o *MXOptions) {
		opts := spam.Options{Store: o.Store, Config: cfg, Metrics: o.Metrics, Log: o.Log,
			DNSBLTimeout: 500 * time.Millisecond, RspamdTimeout: 30 * time.Second} // a loaded CI machine makes rspamd's first scans slow
		if dnsAddr != "" {
			opts.Resolver = resolverAt(dnsAddr)
		}
		o.Spam = spam.New(opts)
	}
}

func resolverAt(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// Every delivery carries X-Spam-Status/X-Spam-Score with the reasons;
// DMARC p=quarantine failures go to Junk, p=reject failures outside pct=
// too, p=reject failures are refused.
func TestMXSpamHeadersAndPolicyRouting(t *testing.T) {
	e := newMXEnv(t)
	soa := "@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
	testkit.Must(t, e.dns.AddZone("pct.test", soa+`@ IN TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc IN TXT "v=DMARC1; p=reject; pct=20"
`))
	for _, tc := range []struct {
		from, folder, status string
	}{
		{"x@quar.test", "Junk", "Yes, score=12.0 required=5.0 reasons=SPF_FAIL(2.0), DMARC_QUARANTINE(10.0)"},
		{"x@pct.test", "Junk", "Yes, score=12.0 required=5.0 reasons=SPF_FAIL(2.0), DMARC_QUARANTINE(10.0)"},
		{"x@nodmarc.test", "INBOX", "No, score=2.5 required=5.0 reasons=SPF_FAIL(2.0), DMARC_NONE(0.5)"},
		{"x@good.test", "INBOX", "No, score=-1.0 required=5.0 reasons=DMARC_PASS(-1.0)"},
	} {
		subject := "policy-" + strings.SplitN(tc.from, "@", 2)[1]
		testkit.Must(t, e.send(tc.from, []string{"bob@example.com"}, message(tc.from, "bob@example.com", subject, "hello\r\n")))
		var got *stored
		for _, m := range e.folder(t, "bob@example.com", tc.folder) {
			if strings.Contains(m.Raw, "Subject: "+subject+"\r\n") {
				got = &m
			}
		}
		if got == nil {
			t.Fatalf("%s: not in %s", tc.from, tc.folder)
		}
		if s := header(got.Raw, "X-Spam-Status"); s != tc.status {
			t.Errorf("%s: X-Spam-Status %q, want %q", tc.from, s, tc.status)
		}
		score := strings.TrimPrefix(strings.Fields(tc.status)[1], "score=")
		if s := header(got.Raw, "X-Spam-Score"); s != score {
			t.Errorf("%s: X-Spam-Score %q, want %q", tc.from, s, score)
		}
		// Our fields come right after our trace fields, above the sender's.
		if i, j := strings.Index(got.Raw, "X-Spam-Status:"), strings.Index(got.Raw, "From: <"); i < 0 || i > j {
			t.Errorf("%s: X-Spam-Status is not above the message's own fields:\n%s", tc.from, got.Raw)
		}
	}
	err := e.send("x@bad.test", []string{"bob@example.com"}, message("x@bad.test", "bob@example.com", "rej", "spoofed\r\n"))
	wantCode(t, err, 550, "5.7.1")
	if v := counter(t, e, "mailsrv_smtp_messages_rejected_total", "dmarc"); v != 1 {
		t.Errorf("dmarc rejections counted %v", v)
	}
	if v := spamCounter(t, e, "junk", "dmarc_quarantine"); v != 2 {
		t.Errorf("junk verdicts counted %v, want 2", v)
	}
}

func spamCounter(t *testing.T, e *mxEnv, verdict, reason string) float64 {
	t.Helper()
	mfs, err := e.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "mailsrv_spam_verdicts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["verdict"] == verdict && labels["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// sendFrom is e.send from a given loopback source address.
func (e *mxEnv) sendFrom(src string, from, to, msg string) error {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", e.addr)
	if err != nil {
		return err
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	io.WriteString(w, msg)
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// A client listed by a DNSBL zone gets 554 5.7.1 naming the zone; an
// unlisted one is served; a zone that fails (SERVFAIL) or never answers
// blocks nobody and costs at most the lookup timeout; answers are cached.
func TestMXDNSBL(t *testing.T) {
	soa := "@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
	bl := dnstest.StartZones(t, map[string]string{
		"bl.test":     soa + "2.0.0.127 IN A 127.0.0.2\n2.0.0.127 IN TXT \"listed for testing\"\n",
		"broken.test": soa,
		"slow.test":   soa,
	})
	bl.SetFault("2.0.0.127.broken.test.", 0, dnstest.ServFail)
	bl.SetFault("1.0.0.127.broken.test.", 0, dnstest.ServFail)
	bl.SetFault("1.0.0.127.slow.test.", 0, dnstest.Timeout)
	bl.SetFault("2.0.0.127.slow.test.", 0, dnstest.Timeout)
	e := newMXEnv(t, withSpam(config.Spam{DNSBL: []string{"broken.test", "slow.test", "bl.test"}}, bl.Addr()))

	msg := message("x@nodmarc.test", "alice@example.com", "dnsbl", "hi\r\n")
	start := time.Now()
	err := e.sendFrom("127.0.0.2", "x@nodmarc.test", "alice@example.com", msg)
	wantCode(t, err, 554, "5.7.1")
	if !strings.Contains(err.Error(), "bl.test") || !strings.Contains(err.Error(), "127.0.0.2") {
		t.Fatalf("rejection does not name the zone and address: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("listed client answered after %s (slow zone not bounded)", took)
	}
	start = time.Now()
	testkit.Must(t, e.sendFrom("127.0.0.1", "x@nodmarc.test", "alice@example.com", msg))
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("unlisted client served after %s", took)
	}
	if n := len(e.folder(t, "alice@example.com", "INBOX")); n != 1 {
		t.Fatalf("INBOX has %d messages, want the unlisted client's one", n)
	}
	// Answers are cached: with bl.test now failing, the second listed
	// connection is still refused from the cache.
	bl.SetFault("2.0.0.127.bl.test.", 0, dnstest.ServFail)
	wantCode(t, e.sendFrom("127.0.0.2", "x@nodmarc.test", "alice@example.com", msg), 554, "5.7.1")
	if v := counter(t, e, "mailsrv_smtp_messages_rejected_total", "dnsbl"); v != 2 {
		t.Errorf("dnsbl rejections counted %v", v)
	}
}

// rspamd's actions are honoured (Debian's real rspamd, started by the
// test): reject → 554, add header → Junk, greylist → 451, no action →
// INBOX; rspamd down → delivered anyway.
func TestMXRspamd(t *testing.T) {
	url := spamtest.StartRspamd(t)
	e := newMXEnv(t, withSpam(config.Spam{RspamdURL: url}, ""))
	full := func(subject, body string) string {
		return "From: Sender Name <x@good.test>\r\nTo: Alice <alice@example.com>\r\nSubject: " + subject +
			"\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <" + subject + "@good.test>\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
	}
	err := e.send("x@good.test", []string{"alice@example.com"}, e.sign(t, full("gtube", spamtest.GTUBEReject)))
	wantCode(t, err, 554, "5.7.1")

	testkit.Must(t, e.send("x@good.test", []string{"alice@example.com"}, e.sign(t, full("addheader", spamtest.GTUBEAddHeader))))
	junk := e.folder(t, "alice@example.com", "Junk")
	if len(junk) != 1 || !strings.Contains(header(junk[0].Raw, "X-Spam-Status"), "RSPAMD_SPAM(10.0)") {
		t.Fatalf("add header: Junk = %+v", junk)
	}

	// A bare message (no Date, no Message-ID, no display name) scores
	// enough for rspamd's default greylist action.
	err = e.send("x@good.test", []string{"alice@example.com"}, "From: x@good.test\r\nSubject: hi\r\n\r\nhello\r\n")
	wantCode(t, err, 451, "4.7.1")

	body := "Hello Alice,\r\n\r\nthe minutes of Tuesday's meeting are below; the budget review moves to Thursday.\r\n\r\nBest regards,\r\nSender"
	testkit.Must(t, e.send("x@good.test", []string{"alice@example.com"}, e.sign(t, full("clean", body))))
	inbox := e.folder(t, "alice@example.com", "INBOX")
	if len(inbox) != 1 || !strings.Contains(header(inbox[0].Raw, "X-Spam-Status"), "RSPAMD_CLEAN") {
		t.Fatalf("clean: INBOX = %+v", inbox)
	}
	if n := blobFiles(t, e); n != 2 {
		t.Errorf("%d blob files, want the 2 delivered (refused ones removed)", n)
	}

	// rspamd down: the message is delivered without it, after at most
	// the timeout.
	down := newMXEnv(t, withSpam(config.Spam{RspamdURL: "http://127.0.0.1:" + closedPort(t)}, ""))
	testkit.Must(t, down.send("x@good.test", []string{"alice@example.com"}, down.sign(t, full("down", body))))
	inbox = down.folder(t, "alice@example.com", "INBOX")
	if len(inbox) != 1 || !strings.Contains(header(inbox[0].Raw, "X-Spam-Status"), "RSPAMD_UNAVAILABLE") {
		t.Fatalf("rspamd down: INBOX = %+v", inbox)
	}
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}
