package web

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailsrv/server/config"
	"mailsrv/server/metrics"
	"mailsrv/server/tlsconf"
)

var testDomains = []string{"example.com", "example.org"}

func newTestServer(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	if opts.Hostname == "" {
		opts.Hostname = "mail.example.net"
	}
	if opts.Domains == nil && opts.IsLocalDomain == nil {
		opts.Domains = func(context.Context) []string { return testDomains }
	}
	srv := httptest.NewServer(New(opts).Handler())
	t.Cleanup(srv.Close)
	return srv
}

// do sends a request to srv with the given Host header.
func do(t *testing.T, srv *httptest.Server, method, host, path, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/xml")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// tbConfig mirrors, independently of the production structs, the parts of
// config-v1.1.xml that Thunderbird's parser (readFromXML.sys.mjs) reads.
type tbConfig struct {
	XMLName  xml.Name `xml:"clientConfig"`
	Version  string   `xml:"version,attr"`
	Provider struct {
		ID       string     `xml:"id,attr"`
		Domains  []string   `xml:"domain"`
		Display  string     `xml:"displayName"`
		Incoming []tbServer `xml:"incomingServer"`
		Outgoing []tbServer `xml:"outgoingServer"`
	} `xml:"emailProvider"`
}

type tbServer struct {
	Type     string `xml:"type,attr"`
	Hostname string `xml:"hostname"`
	Port     int    `xml:"port"`
	Socket   string `xml:"socketType"`
	Username string `xml:"username"`
	Auth     string `xml:"authentication"`
}

func TestAutoconfigThunderbird(t *testing.T) {
	srv := newTestServer(t, Options{})
	for _, path := range []string{"/mail/config-v1.1.xml", "/.well-known/autoconfig/mail/config-v1.1.xml"} {
		for _, d := range testDomains {
			q := "?emailaddress=" + url.QueryEscape("alice@"+strings.ToUpper(d))
			code, hdr, body := do(t, srv, "GET", "autoconfig."+d, path+q, "")
			if code != 200 {
				t.Fatalf("%s for %s: status %d: %s", path, d, code, body)
			}
			if !strings.Contains(hdr.Get("Content-Type"), "xml") {
				t.Errorf("content type %q", hdr.Get("Content-Type"))
			}
			var c tbConfig
			if err := xml.Unmarshal([]byte(body), &c); err != nil {
				t.Fatalf("%s: %v\n%s", path, err, body)
			}
			if c.Version != "1.1" || c.Provider.ID != d || len(c.Provider.Domains) != 1 || c.Provider.Domains[0] != d {
				t.Errorf("provider = %+v, want id/domain %s", c.Provider, d)
			}
			want := tbServer{"imap", "mail.example.net", 993, "SSL", "%EMAILADDRESS%", "password-cleartext"}
			if len(c.Provider.Incoming) != 1 || c.Provider.Incoming[0] != want {
				t.Errorf("incoming = %+v, want [%+v]", c.Provider.Incoming, want)
			}
			wantOut := []tbServer{
				{"smtp", "mail.example.net", 465, "SSL", "%EMAILADDRESS%", "password-cleartext"},
				{"smtp", "mail.example.net", 587, "STARTTLS", "%EMAILADDRESS%", "password-cleartext"},
			}
			if len(c.Provider.Outgoing) != 2 || c.Provider.Outgoing[0] != wantOut[0] || c.Provider.Outgoing[1] != wantOut[1] {
				t.Errorf("outgoing = %+v, want %+v", c.Provider.Outgoing, wantOut)
			}
		}
	}

	// Without ?emailaddress the Host names the domain.
	if code, _, body := do(t, srv, "GET", "autoconfig.example.org", "/mail/config-v1.1.xml", ""); code != 200 || !strings.Contains(body, `id="example.org"`) {
		t.Errorf("host-derived domain: %d %s", code, body)
	}
	if code, _, body := do(t, srv, "GET", "example.com:8080", "/.well-known/autoconfig/mail/config-v1.1.xml", ""); code != 200 || !strings.Contains(body, `id="example.com"`) {
		t.Errorf("well-known on bare domain: %d %s", code, body)
	}
	// Not a local domain: 404, whether by parameter or by Host.
	if code, _, _ := do(t, srv, "GET", "autoconfig.example.com", "/mail/config-v1.1.xml?emailaddress=eve@evil.test", ""); code != 404 {
		t.Errorf("foreign emailaddress: status %d, want 404", code)
	}
	if code, _, _ := do(t, srv, "GET", "autoconfig.evil.test", "/mail/config-v1.1.xml", ""); code != 404 {
		t.Errorf("foreign host: status %d, want 404", code)
	}
	if code, _, _ := do(t, srv, "GET", "autoconfig.example.com", "/mail/config-v1.1.xml?emailaddress=nonsense", ""); code != 400 {
		t.Errorf("malformed emailaddress: status %d, want 400", code)
	}
}

func TestAutoconfigCustomPortsAndIsLocalDomain(t *testing.T) {
	srv := newTestServer(t, Options{
		Hostname:      "MX.Example.Net.",
		IsLocalDomain: func(_ context.Context, d string) bool { return d == "only.test" },
		IMAPSPort:     2993, SubmissionsPort: 2465, SubmissionPort: 2587,
	})
	code, _, body := do(t, srv, "GET", "", "/mail/config-v1.1.xml?emailaddress=a@only.test", "")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var c tbConfig
	if err := xml.Unmarshal([]byte(body), &c); err != nil {
		t.Fatal(err)
	}
	if c.Provider.Incoming[0].Port != 2993 || c.Provider.Outgoing[0].Port != 2465 || c.Provider.Outgoing[1].Port != 2587 {
		t.Errorf("ports not taken from Options: %+v %+v", c.Provider.Incoming, c.Provider.Outgoing)
	}
	if c.Provider.Incoming[0].Hostname != "mx.example.net" {
		t.Errorf("hostname = %q, want normalised mx.example.net", c.Provider.Incoming[0].Hostname)
	}
}

// outlookResp mirrors what Outlook reads from a POX response.
type outlookResp struct {
	XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
	Response struct {
		XMLName xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Response"`
		Account struct {
			AccountType string `xml:"AccountType"`
			Action      string `xml:"Action"`
			Protocol    []struct {
				Type, Server string
				Port         int
				LoginName    string
				SSL          string
				SPA          string
				AuthRequired string
			} `xml:"Protocol"`
		} `xml:"Account"`
	} `xml:"Response"`
}

const poxRequest = `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>%s</EMailAddress>
    <AcceptableResponseSchema>%s</AcceptableResponseSchema>
  </Request>
</Autodiscover>`

func TestAutodiscoverPOX(t *testing.T) {
	srv := newTestServer(t, Options{})
	check := func(t *testing.T, body, addr string) {
		t.Helper()
		var r outlookResp
		if err := xml.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("response does not parse with Outlook's namespaces: %v\n%s", err, body)
		}
		a := r.Response.Account
		if a.AccountType != "email" || a.Action != "settings" || len(a.Protocol) != 2 {
			t.Fatalf("account = %+v", a)
		}
		imap, smtp := a.Protocol[0], a.Protocol[1]
		if imap.Type != "IMAP" || imap.Server != "mail.example.net" || imap.Port != 993 || imap.SSL != "on" || imap.LoginName != addr || imap.AuthRequired != "on" || imap.SPA != "off" {
			t.Errorf("IMAP = %+v", imap)
		}
		if smtp.Type != "SMTP" || smtp.Server != "mail.example.net" || smtp.Port != 465 || smtp.SSL != "on" || smtp.LoginName != addr || smtp.AuthRequired != "on" {
			t.Errorf("SMTP = %+v", smtp)
		}
	}
	for _, addr := range []string{"alice@example.com", "bob@example.org"} {
		body := strings.Replace(strings.Replace(poxRequest, "%s", addr, 1), "%s", nsOutlookResponse, 1)
		for _, path := range []string{"/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml"} {
			code, _, resp := do(t, srv, "POST", "autodiscover."+strings.SplitN(addr, "@", 2)[1], path, body)
			if code != 200 {
				t.Fatalf("POST %s for %s: %d %s", path, addr, code, resp)
			}
			check(t, resp, addr)
		}
		code, _, resp := do(t, srv, "GET", "", "/autodiscover/autodiscover.xml?Email="+url.QueryEscape(addr), "")
		if code != 200 {
			t.Fatalf("GET for %s: %d %s", addr, code, resp)
		}
		check(t, resp, addr)
	}

	foreign := strings.Replace(strings.Replace(poxRequest, "%s", "eve@evil.test", 1), "%s", nsOutlookResponse, 1)
	if code, _, _ := do(t, srv, "POST", "", "/autodiscover/autodiscover.xml", foreign); code != 404 {
		t.Errorf("foreign domain: %d, want 404", code)
	}
	if code, _, _ := do(t, srv, "POST", "", "/autodiscover/autodiscover.xml", "<Autodiscover><Request>"); code != 400 {
		t.Errorf("truncated XML: %d, want 400", code)
	}
	if code, _, _ := do(t, srv, "POST", "", "/autodiscover/autodiscover.xml", strings.Repeat("<a>", 100000)); code != 400 {
		t.Errorf("oversized body: %d, want 400", code)
	}
	mobile := strings.Replace(strings.Replace(poxRequest, "%s", "alice@example.com", 1), "%s",
		"http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006", 1)
	code, _, resp := do(t, srv, "POST", "", "/autodiscover/autodiscover.xml", mobile)
	// Exchange's error shape: Response in the outer (non-Outlook) namespace.
	var r struct {
		XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
		Response struct {
			XMLName xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Response"`
			Error   struct {
				ErrorCode int `xml:"ErrorCode"`
			} `xml:"Error"`
		} `xml:"Response"`
	}
	if err := xml.Unmarshal([]byte(resp), &r); err != nil {
		t.Fatalf("error response does not parse: %v\n%s", err, resp)
	}
	if code != 200 || r.Response.Error.ErrorCode != 600 {
		t.Errorf("mobilesync schema: %d %s, want Exchange error 600", code, resp)
	}
}

func TestAutodiscoverJSON(t *testing.T) {
	srv := newTestServer(t, Options{})
	get := func(path string) (int, map[string]string) {
		t.Helper()
		code, hdr, body := do(t, srv, "GET", "", path, "")
		if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			t.Errorf("%s: content type %q", path, hdr.Get("Content-Type"))
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("%s: %v: %s", path, err, body)
		}
		return code, m
	}
	for _, path := range []string{
		"/autodiscover/autodiscover.json?Email=alice%40example.com&Protocol=AutodiscoverV1",
		"/autodiscover/autodiscover.json/v1.0/bob@example.org?Protocol=autodiscoverv1",
	} {
		code, m := get(path)
		if code != 200 || m["Protocol"] != "AutodiscoverV1" || m["Url"] != "https://mail.example.net/autodiscover/autodiscover.xml" {
			t.Errorf("%s: %d %v", path, code, m)
		}
	}
	if code, m := get("/autodiscover/autodiscover.json?Email=alice%40example.com&Protocol=ActiveSync"); code != 400 || m["ErrorCode"] != "InvalidProtocol" {
		t.Errorf("ActiveSync: %d %v", code, m)
	}
	if code, m := get("/autodiscover/autodiscover.json?Email=eve%40evil.test&Protocol=AutodiscoverV1"); code != 404 || m["ErrorCode"] == "" {
		t.Errorf("foreign: %d %v", code, m)
	}
	if code, _ := get("/autodiscover/autodiscover.json?Protocol=AutodiscoverV1"); code != 400 {
		t.Errorf("no address: %d", code)
	}
}

func TestMTASTSPolicy(t *testing.T) {
	srv := newTestServer(t, Options{})
	code, hdr, body := do(t, srv, "GET", "mta-sts.example.com", "/.well-known/mta-sts.txt", "")
	want := "version: STSv1\r\nmode: testing\r\nmx: mail.example.net\r\nmax_age: 604800\r\n"
	if code != 200 || body != want {
		t.Fatalf("policy: %d %q, want %q", code, body, want)
	}
	if !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Errorf("content type %q", hdr.Get("Content-Type"))
	}
	if code, _, body := do(t, srv, "GET", "MTA-STS.example.org:443", "/.well-known/mta-sts.txt", ""); code != 200 || body != want {
		t.Errorf("second domain with port: %d %q", code, body)
	}
	for _, host := range []string{"example.com", "mail.example.net", "mta-sts.evil.test"} {
		if code, _, _ := do(t, srv, "GET", host, "/.well-known/mta-sts.txt", ""); code != 404 {
			t.Errorf("host %s: %d, want 404", host, code)
		}
	}

	enforce := newTestServer(t, Options{MTASTSMode: "enforce"})
	if _, _, body := do(t, enforce, "GET", "mta-sts.example.com", "/.well-known/mta-sts.txt", ""); !strings.Contains(body, "\r\nmode: enforce\r\n") {
		t.Errorf("enforce mode not published: %q", body)
	}
}

func TestACMEChallengeIsWired(t *testing.T) {
	cfg := config.Default()
	cfg.Hostname = "mail.example.net"
	cfg.DataDir = t.TempDir()
	cfg.TLS.Mode = tlsconf.ModeACME
	m, err := tlsconf.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	srv := newTestServer(t, Options{TLS: m})
	// autocert owns the challenge path (unknown token: its 404 text) ...
	code, _, body := do(t, srv, "GET", "mail.example.net", "/.well-known/acme-challenge/no-such-token", "")
	if code != 404 || !strings.Contains(strings.ToLower(body), "acme/autocert") {
		t.Errorf("challenge path: %d %q, want autocert's 404", code, body)
	}
	// ... and everything else still reaches our handlers.
	if code, _, _ := do(t, srv, "GET", "mta-sts.example.com", "/.well-known/mta-sts.txt", ""); code != 200 {
		t.Errorf("MTA-STS behind ACME handler: %d", code)
	}
}

func TestMetricsAndHealthz(t *testing.T) {
	var unhealthy atomic.Pointer[error]
	s := New(Options{Healthy: func() error {
		if e := unhealthy.Load(); e != nil {
			return *e
		}
		return nil
	}})
	m := metrics.New()
	srv := httptest.NewServer(s.MetricsHandler(m))
	defer srv.Close()

	scrape := func() string {
		t.Helper()
		code, _, body := do(t, srv, "GET", "", "/metrics", "")
		if code != 200 {
			t.Fatalf("/metrics: %d", code)
		}
		return body
	}
	before := scrape()
	if strings.Contains(before, `mailsrv_smtp_messages_accepted_total{listener="mx"}`) {
		t.Fatal("counter present before any delivery")
	}
	m.SMTPAccepted("mx")
	m.SMTPAccepted("mx")
	m.SMTPRejected("mx", "unknown_user")
	m.AuthFailure("imap")
	m.Delivery("sent")
	m.IMAPCommand("uid fetch", 3*time.Millisecond)
	m.ConnOpened("imaps")
	m.SetQueue(4, 90*time.Second)
	after := scrape()
	for _, line := range []string{
		`mailsrv_smtp_messages_accepted_total{listener="mx"} 2`,
		`mailsrv_smtp_messages_rejected_total{listener="mx",reason="unknown_user"} 1`,
		`mailsrv_auth_failures_total{proto="imap"} 1`,
		`mailsrv_outbound_deliveries_total{result="sent"} 1`,
		`mailsrv_imap_command_duration_seconds_count{command="UID FETCH"} 1`,
		`mailsrv_connections_open{proto="imaps"} 1`,
		`mailsrv_queue_messages 4`,
		`mailsrv_queue_oldest_age_seconds 90`,
	} {
		if !strings.Contains(after, line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}

	if code, _, body := do(t, srv, "GET", "", "/healthz", ""); code != 200 || body != "ok\n" {
		t.Errorf("healthy: %d %q", code, body)
	}
	storeClosed := errors.New("store closed")
	unhealthy.Store(&storeClosed)
	if code, _, body := do(t, srv, "GET", "", "/healthz", ""); code != 503 || !strings.Contains(body, "store closed") {
		t.Errorf("unhealthy: %d %q", code, body)
	}

	// A server without metrics still answers /healthz; /metrics is 404.
	bare := httptest.NewServer(New(Options{}).MetricsHandler(nil))
	defer bare.Close()
	if code, _, _ := do(t, bare, "GET", "", "/metrics", ""); code != 404 {
		t.Errorf("nil metrics: %d, want 404", code)
	}
	if code, _, _ := do(t, bare, "GET", "", "/healthz", ""); code != 200 {
		t.Errorf("nil Healthy: %d, want 200", code)
	}
}
