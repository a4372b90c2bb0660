package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/spf13/cobra"

	"mailsrv/cli"
	"mailsrv/internal/browsertest"
	"mailsrv/server/admin"
)

// browser is one headless Debian chromium driven over the DevTools
// protocol, collecting every JavaScript error the pages raise.
type browser struct {
	t      *testing.T
	ctx    context.Context
	shots  string
	n      int
	start  time.Time
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	if raceEnabled {
		t.Skip("the real-browser test runs without -race (it is slow under the race detector and adds nothing there)")
	}
	ctx := browsertest.Start(t)
	b := &browser{t: t, ctx: ctx, shots: filepath.Join(t.TempDir(), "screenshots"), start: time.Now()}
	os.MkdirAll(b.shots, 0o755)
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// A deliberately refused API call (the error display steps)
			// logs its 4xx as a network entry; every other error, warning
			// of the security source (CSP) or exception fails the test.
			deliberate := m.Source == "network" && strings.Contains(m.Text+m.URL, "/api/")
			if m.IsException() || m.Type == chromedp.ConsoleError && !deliberate || m.Source == "security" {
				b.fail(m.String() + " " + m.URL)
			}
		}
	}()
	return b
}

func (b *browser) fail(msg string) {
	b.mu.Lock()
	b.errors = append(b.errors, msg)
	b.mu.Unlock()
}

// run runs the steps, each group bounded by 30 seconds.
func (b *browser) run(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		b.shot("failure")
		b.mu.Lock()
		defer b.mu.Unlock()
		b.t.Fatalf("browser at %s: %v (JavaScript errors so far: %q)", loc, err, b.errors)
	}
}

// text returns the text of the element sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	var s string
	var err error
	if strings.HasPrefix(sel, "//") {
		s, err = chromedp.Run(ctx, chromedp.Text(sel)) // XPath: a Search
	} else {
		s, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	}
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// shot saves a full-page screenshot (and a copy under
// $MAILSRV_SCREENSHOTS when set, to look at them after the run).
func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil { // a page still settling: once more
		time.Sleep(500 * time.Millisecond)
		png, err = chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	}
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	b.n++
	b.t.Logf("%v: screenshot %s", time.Since(b.start).Round(100*time.Millisecond), name)
	file := fmt.Sprintf("%02d-%s.png", b.n, name)
	os.WriteFile(filepath.Join(b.shots, file), png, 0o644)
	if dir := os.Getenv("MAILSRV_SCREENSHOTS"); dir != "" {
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, file), png, 0o644)
	}
}

func (b *browser) login(base, user, pw string) {
	b.t.Helper()
	b.run(chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), user), chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#login button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#logout")))
}

func (b *browser) logout() {
	b.t.Helper()
	b.run(chromedp.Click(chromedp.CSS("#logout button")), chromedp.WaitVisible(chromedp.CSS("#username")))
}

// cliShow runs `mailsrv shared show ADDR --json` against the running
// server's data directory: the CLI talks to it over the admin socket.
func cliShow(t *testing.T, dataDir, addr string) admin.SharedInfo {
	t.Helper()
	g := &cli.Globals{}
	root := &cobra.Command{Use: "mailsrv", SilenceUsage: true, SilenceErrors: true}
	root.PersistentFlags().StringVar(&g.DataDir, "data", "", "")
	root.AddCommand(cli.Shared(g))
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"--data", dataDir, "shared", "show", addr, "--json"})
	if err := root.Execute(); err != nil {
		t.Fatalf("mailsrv shared show %s --json: %v\n%s", addr, err, out.String())
	}
	var info admin.SharedInfo
	if err := json.Unmarshal(out.Bytes(), &info); err != nil {
		t.Fatalf("shared show output: %v\n%s", err, out.String())
	}
	return info
}

func members(info admin.SharedInfo) string {
	var s []string
	for _, m := range info.Members {
		s = append(s, m.Member+"="+m.Rights)
	}
	return strings.Join(s, " ")
}

// The seed flow in a real browser: a postmaster creates info@ with two
// delegates, a shared-mailboxes admin renames it, the owner revokes a
// delegate; after each step the CLI agrees. Every page is screenshotted
// (desktop and 360 px); any JavaScript error fails the test.
func TestBrowserSharedMailboxFlow(t *testing.T) {
	b := newBrowser(t)
	f := newFixture(t)
	queueOne(t, f.st)
	base := f.httpURL

	b.run(chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#username")))
	b.shot("login")
	// A wrong password shows the server's sentence next to the field.
	b.run(chromedp.SendKeys(chromedp.CSS("#username"), "pm@example.com"), chromedp.SendKeys(chromedp.CSS("#password"), "nope"),
		chromedp.Click(chromedp.CSS("#login button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`#login .err[data-for="password"]`)))
	b.shot("login-error")
	b.login(base, "pm@example.com", "password-pm")

	// Postmaster: create info@ — first with a domain we do not serve,
	// whose error lands next to the address field.
	b.run(chromedp.Navigate(base+"/admin/shared"), chromedp.WaitVisible(chromedp.CSS("#create-shared")),
		chromedp.SendKeys(chromedp.CSS("#sh-name"), "Info"), chromedp.SendKeys(chromedp.CSS("#sh-address"), "info@elsewhere.example"),
		chromedp.SendKeys(chromedp.CSS("#sh-owner"), "owner@example.com"),
		chromedp.Click(chromedp.CSS("#create-shared button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`#create-shared .err[data-for="address"]`)))
	if errText := b.text(`#create-shared .err[data-for="address"]`); errText == "" {
		t.Fatal("no error next to the address field")
	}
	b.shot("shared-create-error")
	b.run(clearField("#sh-address"), chromedp.SendKeys(chromedp.CSS("#sh-address"), "info@example.com"),
		chromedp.Click(chromedp.CSS("#create-shared button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/shared/info@example.com"]`)), chromedp.WaitVisible(chromedp.CSS("#flash")))
	b.shot("shared-list")
	if info := cliShow(t, f.cfg.DataDir, "info@example.com"); info.Name != "Info" || info.Owner != "owner@example.com" || len(info.Members) != 0 {
		t.Fatalf("after create: %+v", info)
	}

	// Two delegates with presets.
	b.run(chromedp.Click(chromedp.CSS(`a[href="/admin/shared/info@example.com"]`)), chromedp.WaitVisible(chromedp.CSS("#add-delegate")))
	for _, d := range []struct{ member, rights string }{{"bob@example.com", "read,manage"}, {"carol@example.com", "send"}} {
		b.run(chromedp.SendKeys(chromedp.CSS("#dg-member"), d.member), chromedp.SetValue(chromedp.CSS("#dg-preset"), d.rights),
			chromedp.Click(chromedp.CSS("#add-delegate button[type=submit]")),
			chromedp.WaitVisible(chromedp.CSS(`tr[data-member="`+d.member+`"]`)))
	}
	b.shot("shared-delegates")
	if info := cliShow(t, f.cfg.DataDir, "info@example.com"); members(info) != "bob@example.com=read,manage carol@example.com=send" {
		t.Fatalf("after grants: %s", members(info))
	}
	labels := b.text("tbody")
	if !strings.Contains(labels, "Read and manage") || !strings.Contains(labels, "Send as") {
		t.Fatalf("delegate table: %q", labels)
	}
	b.run(chromedp.EmulateViewport(360, 740))
	b.shot("shared-delegates-360px")
	b.run(chromedp.EmulateViewport(1280, 900))

	// Markup in a name stays text.
	b.run(chromedp.Navigate(base+"/admin/shared"), chromedp.WaitVisible(chromedp.CSS("#create-shared")),
		chromedp.SendKeys(chromedp.CSS("#sh-name"), `<script>alert(1)</script>`), chromedp.SendKeys(chromedp.CSS("#sh-address"), "x@example.com"),
		chromedp.Click(chromedp.CSS("#create-shared button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/shared/x@example.com"]`)))
	if cell := b.text(`//a[@href="/admin/shared/x@example.com"]/../following-sibling::td[1]`); cell != `<script>alert(1)</script>` {
		t.Fatalf("name cell %q", cell)
	}

	// Other pages, with real data.
	for _, p := range []struct{ path, wait, name string }{
		{"/admin/domains", `[data-verify="example.com"]`, "domains"},
		{"/admin/users", "#user-address", "users"},
		{"/admin/queue", "tbody tr", "queue"},
		{"/admin/admins", "#ad-addr", "admins"},
		{"/admin/shared/info@example.com/audit", "#au-member", "audit"},
	} {
		b.run(chromedp.Navigate(base+p.path), chromedp.WaitVisible(p.wait))
		b.shot(p.name)
	}
	// DNS check of the domain (nothing answers on the test resolver: the
	// checks fail, each with the record to publish).
	b.run(chromedp.Navigate(base+"/admin/domains"), chromedp.Click(chromedp.CSS(`[data-verify="example.com"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-verify-result="example.com"] table, [data-verify-result="example.com"].page-error`)))
	b.run(chromedp.Click(chromedp.CSS(`details summary`)))
	b.shot("domains-verified")
	// A user with a generated password, shown once.
	b.run(chromedp.Navigate(base+"/admin/users"), chromedp.WaitVisible(chromedp.CSS("#user-address")),
		chromedp.SendKeys(chromedp.CSS("#user-address"), "dave@example.com"), chromedp.Click(chromedp.CSS(`[data-generate="user-password"]`)),
		void(chromedp.Poll[bool](`document.querySelector("#user-password").value !== ""`)),
		chromedp.Click(chromedp.CSS(`form[data-op="user.add"] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#flash")))
	flash := b.text("#flash")
	if !strings.Contains(flash, "user dave@example.com added") || !strings.Contains(flash, "shown once") {
		t.Fatalf("flash %q", flash)
	}
	b.shot("users-added")
	b.run(chromedp.EmulateViewport(360, 740))
	b.shot("users-360px")
	b.run(chromedp.EmulateViewport(1280, 900))
	b.logout()

	// A shared-mailboxes admin renames info@ (name and address).
	b.login(base, "sm@example.com", "password-sm")
	b.run(chromedp.Navigate(base+"/admin/shared/info@example.com"), chromedp.WaitVisible(chromedp.CSS("#rename")),
		clearField("#rn-name"), chromedp.SendKeys(chromedp.CSS("#rn-name"), "Info desk"),
		chromedp.SendKeys(chromedp.CSS("#rn-addr"), "hello@example.com"),
		chromedp.Click(chromedp.CSS("#rename button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/shared/hello@example.com/audit"]`)))
	b.shot("shared-renamed")
	info := cliShow(t, f.cfg.DataDir, "hello@example.com")
	if info.Name != "Info desk" || info.Address != "hello@example.com" || members(info) != "bob@example.com=read,manage carol@example.com=send" {
		t.Fatalf("after rename: %+v", info)
	}
	if ids, err := f.st.Resolve(t.Context(), "info@example.com"); err != nil || len(ids) != 1 {
		t.Fatalf("old address no longer delivers: %v %v", ids, err)
	}
	b.run(chromedp.Navigate(base+"/admin/trash"), chromedp.WaitVisible(chromedp.CSS("h1")))
	b.shot("trash-as-shared-admin")
	b.logout()

	// The owner, without a role, revokes carol.
	b.login(base, "owner@example.com", "password-owner")
	b.run(chromedp.Navigate(base+"/admin/shared/hello@example.com"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-member="carol@example.com"]`)))
	b.shot("owner-view")
	revoke := `tr[data-member="carol@example.com"] form[data-op="shared.revoke"] button`
	b.run(chromedp.Click(chromedp.CSS(revoke)), chromedp.WaitVisible(chromedp.CSS(revoke+`[data-armed]`)), chromedp.Click(chromedp.CSS(revoke)),
		chromedp.WaitNotPresent(chromedp.CSS(`tr[data-member="carol@example.com"]`)),
		chromedp.WaitVisible(chromedp.CSS("#flash"))) // the reloaded page
	b.shot("owner-revoked")
	if info := cliShow(t, f.cfg.DataDir, "hello@example.com"); members(info) != "bob@example.com=read,manage" {
		t.Fatalf("after revoke: %s", members(info))
	}
	b.run(chromedp.Navigate(base+"/admin/shared/hello@example.com/audit"), chromedp.WaitVisible(chromedp.CSS("#au-member")))
	b.shot("audit-by-owner")

	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		t.Fatalf("JavaScript errors:\n%s", strings.Join(b.errors, "\n"))
	}
	t.Logf("screenshots in %s", b.shots)
}

// void drops an action's value.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// clearField empties an input.
func clearField(sel string) chromedp.Action[chromedp.Void] {
	return void(chromedp.Evaluate[bool](fmt.Sprintf(`(document.querySelector(%q).value = "", true)`, sel)))
}
