package server

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"mailsrv/server/admin"
)

func adminDo(t *testing.T, s *Server, op string, args any) {
	t.Helper()
	raw, _ := json.Marshal(args)
	if resp := s.admin.Handle(context.Background(), admin.Request{Op: op, Args: raw}); resp.Error != "" {
		t.Fatalf("%s: %s", op, resp.Error)
	}
}

func listNames(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range list {
		out = append(out, m.Mailbox)
	}
	return out
}

// A grant or revoke through the admin socket's handler is seen by an IMAP
// session that is already logged in, at its very next command.
func TestGrantRevokeVisibleToLiveIMAPSession(t *testing.T) {
	s, _ := testServer(t)
	adminDo(t, s, "domain.add", map[string]string{"name": "example.com"})
	addUser(t, s.Store(), "alice@example.com", "alice-password")
	addUser(t, s.Store(), "bob@example.com", "bob-password")
	adminDo(t, s, "shared.create", map[string]any{"address": "info@example.com", "name": "Info", "owner": "alice@example.com"})

	c, err := imapclient.DialTLS(s.Addr("imaps").String(), &imapclient.Options{TLSConfig: insecureTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("bob@example.com", "bob-password").Wait(); err != nil {
		t.Fatal(err)
	}
	if names := listNames(t, c); slices.Contains(names, "Shared/info@example.com/INBOX") {
		t.Fatalf("visible before grant: %v", names)
	}
	adminDo(t, s, "shared.grant", map[string]any{"address": "info@example.com", "member": "bob@example.com", "rights": "read"})
	if names := listNames(t, c); !slices.Contains(names, "Shared/info@example.com/INBOX") {
		t.Fatalf("not visible right after grant: %v", names)
	}
	mx, err := smtp.Dial(s.Addr("smtp").String())
	if err != nil {
		t.Fatal(err)
	}
	if err := mx.SendMail("carol@customer.example", []string{"info@example.com"}, strings.NewReader("Subject: hi\r\n\r\nhello\r\n")); err != nil {
		t.Fatal(err)
	}
	mx.Quit()
	sel, err := c.Select("Shared/info@example.com/INBOX", nil).Wait()
	if err != nil || sel.NumMessages != 1 {
		t.Fatalf("select: %v %+v", err, sel)
	}
	// read without manage: flagging is refused with NOPERM.
	err = c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close()
	if err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("STORE by a read-only member: %v", err)
	}
	if _, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect(); err != nil {
		t.Fatalf("FETCH by a reader: %v", err)
	}
	adminDo(t, s, "shared.revoke", map[string]any{"address": "info@example.com", "member": "bob@example.com"})
	if _, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect(); err == nil {
		t.Fatal("revoked member can still FETCH from the selected shared folder")
	}
	if names := listNames(t, c); slices.Contains(names, "Shared/info@example.com/INBOX") {
		t.Fatalf("still visible after revoke: %v", names)
	}
}
