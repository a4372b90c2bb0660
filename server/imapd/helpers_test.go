package imapd

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailsrv/auth"
	"mailsrv/auth/acl"
	"mailsrv/server/config"
	"mailsrv/store"
)

const testPassword = "correct horse"

// env is an in-process server over a fresh store with users alice (owner
// of info@), bob (read on info@), carol (read,manage on info@) and dave
// (no rights).
type env struct {
	t    *testing.T
	st   *store.Store
	srv  *Server
	addr string
	info *store.Mailbox
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := store.Open(t.TempDir(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.AddDomain(t.Context(), store.Domain{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		if _, err := st.AddUser(t.Context(), u+"@example.com", u, hash); err != nil {
			t.Fatal(err)
		}
	}
	info, err := st.CreateShared(t.Context(), "info@example.com", "Info", "alice@example.com", hash, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Grant(t.Context(), info.ID, "bob@example.com", acl.Read, 0, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := st.Grant(t.Context(), info.ID, "carol@example.com", acl.Read|acl.Manage, 0, "admin"); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, info: info}
	e.start(Options{})
	return e
}

func (e *env) start(o Options) {
	o.Store = e.st
	o.AllowInsecureAuth = o.TLS == nil
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Limits == (config.Limits{}) {
		o.Limits = config.Limits{MaxMessageBytes: 1 << 20, AuthFailuresPerMinute: 100}
	}
	e.srv = New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	if o.TLS != nil {
		go e.srv.ServeTLS(ln)
	} else {
		go e.srv.Serve(ln)
	}
	e.t.Cleanup(func() { e.srv.Close() })
}

// updates collects unilateral data a client receives.
type updates struct {
	mu       sync.Mutex
	exists   []uint32
	expunges []uint32
	flags    map[uint32][]imap.Flag // seq → flags
	ch       chan struct{}
}

func (u *updates) notify() {
	select {
	case u.ch <- struct{}{}:
	default:
	}
}

// waitFor polls cond (under u.mu) until it holds or the test times out.
func (u *updates) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		u.mu.Lock()
		ok := cond()
		u.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-u.ch:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (e *env) dial(login string) (*imapclient.Client, *updates) {
	e.t.Helper()
	u := &updates{flags: map[uint32][]imap.Flag{}, ch: make(chan struct{}, 1)}
	c, err := imapclient.DialInsecure(e.addr, &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Expunge: func(seq uint32) {
				u.mu.Lock()
				u.expunges = append(u.expunges, seq)
				u.mu.Unlock()
				u.notify()
			},
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					u.mu.Lock()
					u.exists = append(u.exists, *d.NumMessages)
					u.mu.Unlock()
					u.notify()
				}
			},
			Fetch: func(msg *imapclient.FetchMessageData) {
				buf, err := msg.Collect()
				if err != nil {
					return
				}
				u.mu.Lock()
				u.flags[buf.SeqNum] = buf.Flags
				u.mu.Unlock()
				u.notify()
			},
		},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	if login != "" {
		if err := c.Login(login, testPassword).Wait(); err != nil {
			e.t.Fatalf("login %s: %v", login, err)
		}
	}
	return c, u
}

// deliver puts a message into a folder as MX intake would.
func (e *env) deliver(mbid uint64, folder, msg string, flags ...string) uint32 {
	e.t.Helper()
	w, err := e.st.NewBlob(e.t.Context(), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	io.WriteString(w, msg)
	if err := w.Sync(); err != nil {
		e.t.Fatal(err)
	}
	d, err := e.st.Deliver(e.t.Context(), store.Delivery{Blob: w, Targets: []store.Target{{MailboxID: mbid, Folder: folder, Flags: flags}}})
	if err != nil {
		w.Abort()
		e.t.Fatal(err)
	}
	return d[0].UID
}

func (e *env) mailbox(addr string) uint64 {
	e.t.Helper()
	mb, err := e.st.MailboxByAddress(e.t.Context(), addr)
	if err != nil {
		e.t.Fatal(err)
	}
	return mb.ID
}

func testMessage(i int) string {
	return fmt.Sprintf("From: Sender %d <sender%d@remote.example>\r\nTo: alice@example.com\r\nSubject: message %d\r\nMessage-ID: <m%d@remote.example>\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\n\r\nbody of message %d\r\n", i, i, i, i, i)
}

// wantCode asserts err is an IMAP NO with the given response code.
func wantCode(t *testing.T, what string, err error, code imap.ResponseCode) {
	t.Helper()
	var ie *imap.Error
	if !errors.As(err, &ie) {
		t.Fatalf("%s: want NO [%s], got %v", what, code, err)
	}
	if ie.Code != code {
		t.Fatalf("%s: want [%s], got %v [%s] %s", what, code, ie.Type, ie.Code, ie.Text)
	}
}

func listNames(t *testing.T, c *imapclient.Client) map[string]*imap.ListData {
	t.Helper()
	l, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*imap.ListData{}
	for _, d := range l {
		out[d.Mailbox] = d
	}
	return out
}

func hasAttr(d *imap.ListData, a imap.MailboxAttr) bool {
	for _, x := range d.Attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}
