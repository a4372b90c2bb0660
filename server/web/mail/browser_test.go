package mail_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"mailsrv/internal/browsertest"
	"mailsrv/server/config"
)

// browser is one headless Debian chromium driven over the DevTools
// protocol, collecting every JavaScript error the pages raise.
type browser struct {
	t      *testing.T
	ctx    context.Context
	shots  string
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	if raceEnabled {
		t.Skip("the real-browser test runs without -race (slow under the race detector; the server code is raced by the other tests)")
	}
	ctx := browsertest.Start(t)
	b := &browser{t: t, ctx: ctx, shots: filepath.Join(t.TempDir(), "screenshots")}
	os.MkdirAll(b.shots, 0o755)
	b.watch(ctx)
	return b
}

// watch fails the test on any exception, console error or CSP report of
// the target ctx.
func (b *browser) watch(ctx context.Context) {
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError || m.Source == "security" {
				b.mu.Lock()
				b.errors = append(b.errors, m.String()+" "+m.URL)
				b.mu.Unlock()
			}
		}
	}()
}

// tab opens a second, independent browser context (another user's
// cookies) in the same chromium.
func (b *browser) tab() *browser {
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("new browser context: %v", err)
	}
	nb := &browser{t: b.t, ctx: ctx, shots: b.shots}
	nb.watch(ctx)
	return nb
}

func (b *browser) run(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 40*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		b.shot("failure")
		b.mu.Lock()
		defer b.mu.Unlock()
		b.t.Fatalf("browser at %s: %v (JavaScript errors so far: %q)", loc, err, b.errors)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *browser) eval(js string) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// shotN numbers the screenshots of every browser tab in order.
var (
	shotMu sync.Mutex
	shotN  int
)

func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		time.Sleep(500 * time.Millisecond)
		png, err = chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	}
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	shotMu.Lock()
	shotN++
	file := fmt.Sprintf("%02d-%s.png", shotN, name)
	shotMu.Unlock()
	os.WriteFile(filepath.Join(b.shots, file), png, 0o644)
	if dir := os.Getenv("MAILSRV_SCREENSHOTS"); dir != "" {
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, file), png, 0o644)
	}
}

func (b *browser) login(base, user string) {
	b.t.Helper()
	b.run(chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), user), chromedp.SendKeys(chromedp.CSS("#password"), "password-"+strings.Split(user, "@")[0]),
		chromedp.Click(chromedp.CSS("#login button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#accounts a")))
}

func (b *browser) jsErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

func poll(js string) chromedp.Action[chromedp.Void] { return void(chromedp.Poll[bool](js)) }

// fakeMX is the external recipient's server: it keeps what it receives.
type fakeMX struct {
	mu   sync.Mutex
	msgs []string
	from []string
}

func (m *fakeMX) NewSession(*smtp.Conn) (smtp.Session, error) { return &fakeSess{m: m}, nil }

type fakeSess struct {
	m    *fakeMX
	from string
}

func (s *fakeSess) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *fakeSess) Rcpt(string, *smtp.RcptOptions) error        { return nil }
func (s *fakeSess) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	s.m.msgs = append(s.m.msgs, string(b))
	s.m.from = append(s.m.from, s.from)
	s.m.mu.Unlock()
	return nil
}
func (s *fakeSess) Reset()        {}
func (s *fakeSess) Logout() error { return nil }

func startFakeMX(t *testing.T) (*fakeMX, string) {
	mx := &fakeMX{}
	srv := smtp.NewServer(mx)
	srv.Domain = "mx.remote.example"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return mx, ln.Addr().String()
}

// The scenario in a real browser: alice logs in, switches to
// info@ (labelled Shared), opens a message that came in over MX and
// replies; bob (read only on info@) has info@'s Sent open and sees the
// reply appear without reloading, and no delete action; the external
// sender's MX receives the reply From info@ with a valid DKIM signature.
func TestBrowserSharedReply(t *testing.T) {
	b := newBrowser(t)
	mx, mxAddr := startFakeMX(t)
	keys := testDKIM().records
	f := newFixture(t, func(c *config.Config) {
		c.Outbound.Relay = mxAddr
	})
	f.sendMX(t, "customer@remote.example", "info@example.com",
		"From: Customer <customer@remote.example>\r\nTo: info@example.com\r\nSubject: Where is my order?\r\nMessage-ID: <order-1@remote.example>\r\n"+
			"Content-Type: text/html\r\n\r\n<p>Hello, <b>where</b> is order 42?</p><img src=\"http://tracker.example/p.gif\"><script>alert(1)</script>\r\n")
	base := f.httpURL

	// bob first: info@'s Sent, read only.
	bob := b.tab()
	bob.login(base, "bob@example.com")
	bob.run(chromedp.Navigate(base+"/mail/info@example.com/Sent"), chromedp.WaitVisible(chromedp.CSS(`#folders a[data-folder="Sent"][aria-current]`)))
	bob.shot("bob-info-sent-empty")

	b.login(base, "alice@example.com")
	b.shot("alice-inbox")
	shared := `#accounts a[data-address="info@example.com"]`
	if label := b.text(shared); !strings.Contains(label, "Shared") || !strings.Contains(label, "1") {
		t.Fatalf("info@ entry %q: want the Shared label and 1 unread", label)
	}
	b.run(chromedp.Click(chromedp.CSS(shared)), chromedp.WaitVisible(chromedp.CSS(`#messages li[data-uid]`)),
		poll(`location.pathname === "/mail/info@example.com/INBOX"`))
	b.shot("alice-info-inbox")
	b.run(chromedp.Click(chromedp.CSS(`#messages li[data-uid]`)), chromedp.WaitVisible(chromedp.CSS("#frame")),
		chromedp.WaitVisible(chromedp.CSS("#images")), chromedp.WaitVisible(chromedp.CSS("#delete")))
	b.shot("alice-reader")
	if h := b.text("#head"); !strings.Contains(h, "Where is my order?") {
		t.Fatalf("reader head %q", h)
	}
	// Keyboard: r opens the reply, From is the shared address.
	b.run(chromedp.KeyEvent("r"), chromedp.WaitVisible(chromedp.CSS("#composer")))
	if !b.eval(`document.querySelector("#from").value === "info@example.com" && document.querySelector("#to").value.includes("customer@remote.example") && document.querySelector("#subject").value === "Re: Where is my order?"`) {
		t.Fatal("reply form not prefilled from info@")
	}
	b.run(chromedp.SendKeys(chromedp.CSS("#body"), "It ships today."))
	b.shot("alice-reply")
	b.run(chromedp.Click(chromedp.CSS(`#composeform button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if fl := b.text("#flash"); !strings.Contains(fl, "Sent") {
		t.Fatalf("after send: %q %s", fl, b.text("#composeerror"))
	}

	// bob sees the reply in info@'s Sent without a reload, and no delete.
	bob.run(poll(`[...document.querySelectorAll("#messages li")].some(li => li.textContent.includes("Re: Where is my order?"))`))
	bob.shot("bob-sees-reply")
	bob.run(chromedp.Click(chromedp.CSS(`#messages li[data-uid]`)), chromedp.WaitVisible(chromedp.CSS("#head h2")))
	if !bob.eval(`document.querySelector("#delete").hidden && document.querySelector("#moveto").hidden && document.querySelector("#flag").hidden`) {
		t.Error("bob (read only) is offered delete/move/flag")
	}
	bob.run(chromedp.EmulateViewport(360, 740))
	bob.shot("bob-reader-360px")

	// The external MX got it From info@, DKIM-signed for example.com.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mx.mu.Lock()
		n := len(mx.msgs)
		mx.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	mx.mu.Lock()
	defer mx.mu.Unlock()
	if len(mx.msgs) != 1 {
		t.Fatalf("the external MX received %d messages", len(mx.msgs))
	}
	got := mx.msgs[0]
	if mx.from[0] != "info@example.com" || !strings.Contains(got, "From: <info@example.com>") || !strings.Contains(got, "In-Reply-To: <order-1@remote.example>") {
		t.Errorf("external copy (MAIL FROM %s):\n%s", mx.from[0], got)
	}
	verifs, err := dkim.VerifyWithOptions(strings.NewReader(got), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			sel, _, _ := strings.Cut(name, "._domainkey.")
			if r, ok := keys[sel]; ok && strings.HasSuffix(name, "._domainkey.example.com") {
				return []string{r}, nil
			}
			return nil, fmt.Errorf("no TXT for %s", name)
		},
	})
	if err != nil || len(verifs) != 2 {
		t.Fatalf("DKIM: %v, %d signatures", err, len(verifs))
	}
	for _, v := range verifs {
		if v.Err != nil || v.Domain != "example.com" {
			t.Errorf("signature %+v: %v", v, v.Err)
		}
	}
	for _, e := range append(b.jsErrors(), bob.jsErrors()...) {
		t.Errorf("JavaScript error: %s", e)
	}
	t.Logf("screenshots in %s", b.shots)
}
