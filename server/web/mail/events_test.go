package mail_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sse reads one event stream.
type sse struct {
	resp *http.Response
	r    *bufio.Reader
}

type sseEvent struct{ id, name, data string }

func (c *client) events(t *testing.T, ctx context.Context, lastID string) *sse {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/api/mail/events", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	hc := *c.hc
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &sse{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next returns the next dispatched event (one with a name).
func (s *sse) next(t *testing.T) sseEvent {
	t.Helper()
	var ev sseEvent
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream ended: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if ev.name != "" {
				return ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.name = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
}

func TestEventsLiveAndResumeAfterDrop(t *testing.T) {
	f := newFixture(t)
	bob := f.login(t, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := bob.events(t, ctx, "")
	// Carol's mail is not bob's business: only info@'s reaches him.
	f.deliver(t, "carol@example.com", "INBOX", msg("x@remote.example", "carol@example.com", "private", "x"))
	f.sendMX(t, "x@remote.example", "info@example.com", msg("x@remote.example", "info@example.com", "for the team", "x"))
	ev := s.next(t)
	if ev.name != "new" || !strings.Contains(ev.data, `"account":"info@example.com"`) || !strings.Contains(ev.data, `"folder":"INBOX"`) {
		t.Fatalf("first event = %+v", ev)
	}
	// The connection drops; two changes happen meanwhile; the browser
	// reconnects with Last-Event-ID and gets exactly those.
	s.resp.Body.Close()
	f.deliver(t, "info@example.com", "INBOX", msg("x@remote.example", "info@example.com", "while away", "x"))
	f.deliver(t, "info@example.com", "Sent", msg("alice@example.com", "x@remote.example", "a reply", "x"))
	s2 := bob.events(t, ctx, ev.id)
	e1, e2 := s2.next(t), s2.next(t)
	if e1.name != "new" || !strings.Contains(e1.data, `"folder":"INBOX"`) || e2.name != "new" || !strings.Contains(e2.data, `"folder":"Sent"`) {
		t.Errorf("after reconnect: %+v %+v", e1, e2)
	}
	// An id from before a restart (or out of the buffer) gets "reset".
	s3 := bob.events(t, ctx, fmt.Sprint(1<<40))
	if ev := s3.next(t); ev.name != "reset" {
		t.Errorf("unknown Last-Event-ID gave %+v", ev)
	}
	// Logging out ends the stream at the next change.
	if st, b := bob.post("/api/logout", map[string]string{}); st != 200 {
		t.Fatalf("logout: %d %s", st, b)
	}
	f.deliver(t, "info@example.com", "INBOX", msg("x@remote.example", "info@example.com", "after logout", "x"))
	if ev := s3.next(t); ev.name != "logout" {
		t.Errorf("after logout the stream sent %+v", ev)
	}
}

func TestHTMLFrameIsSandboxed(t *testing.T) {
	f := newFixture(t)
	uid := f.deliver(t, "alice@example.com", "INBOX", "From: a@remote.example\r\nSubject: news\r\nContent-Type: text/html\r\n\r\n"+
		`<p onclick="alert(1)">Hi</p><script>alert(2)</script><img src="http://tracker.example/p.gif">`)
	alice := f.login(t, "alice")
	resp, body := alice.get(fmt.Sprintf("/api/mail/alice@example.com/html?folder=INBOX&uid=%d", uid))
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "sandbox") ||
		strings.Contains(csp, "script-src") || strings.Contains(csp, "http:") {
		t.Errorf("frame: %d CSP %q", resp.StatusCode, csp)
	}
	if strings.Contains(string(body), "alert") || !strings.Contains(string(body), "Hi") {
		t.Errorf("frame body %s", body)
	}
	resp, _ = alice.get(fmt.Sprintf("/api/mail/alice@example.com/html?folder=INBOX&uid=%d&images=1", uid))
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src data: https: http:") || strings.Contains(csp, "script-src") {
		t.Errorf("frame with images: CSP %q", csp)
	}
	resp, _ = alice.get("/mail/alice@example.com/INBOX")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-src 'self'") {
		t.Errorf("page: %d CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
}
