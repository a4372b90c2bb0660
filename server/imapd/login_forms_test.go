package imapd

import (
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
)

// TestDelegateLoginForms (issues 14, 15): every form of delegate login
// opens the shared mailbox as the root, through the one login decision
// shared with submission. bob has the read right on info@.
func TestDelegateLoginForms(t *testing.T) {
	e := newEnv(t)
	e.deliver(e.info.ID, "INBOX", testMessage(1))
	e.deliver(e.info.ID, "INBOX", testMessage(2))
	const delegate = `bob@example.com\info@example.com`
	forms := []struct {
		name  string
		login func(c *imapclient.Client) error
	}{
		{"IMAP LOGIN user\\mailbox", func(c *imapclient.Client) error { return c.Login(delegate, testPassword).Wait() }},
		{"PLAIN authzid = whole login (mbsync)", func(c *imapclient.Client) error {
			return c.Authenticate(sasl.NewPlainClient(delegate, delegate, testPassword))
		}},
		{"PLAIN authzid mailbox, authcid user", func(c *imapclient.Client) error {
			return c.Authenticate(sasl.NewPlainClient("info@example.com", "bob@example.com", testPassword))
		}},
		{"SASL LOGIN user\\mailbox", func(c *imapclient.Client) error {
			return c.Authenticate(sasl.NewLoginClient(delegate, testPassword))
		}},
		{"PLAIN authcid user\\mailbox", func(c *imapclient.Client) error {
			return c.Authenticate(sasl.NewPlainClient("", delegate, testPassword))
		}},
		{"PLAIN authzid user\\mailbox, authcid user", func(c *imapclient.Client) error {
			return c.Authenticate(sasl.NewPlainClient(delegate, "bob@example.com", testPassword))
		}},
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			c, _ := e.dial("")
			defer c.Close()
			if err := f.login(c); err != nil {
				t.Fatalf("login: %v", err)
			}
			sel, err := c.Select("INBOX", nil).Wait()
			if err != nil || sel.NumMessages != 2 {
				t.Fatalf("INBOX of the delegate session: %+v %v (want info@'s 2 messages)", sel, err)
			}
		})
	}
	// Refusals: no right (dave), an authzid naming another user, and a
	// wrong password in the delegate form.
	for name, login := range map[string]func(c *imapclient.Client) error{
		"no right": func(c *imapclient.Client) error {
			return c.Login(`dave@example.com\info@example.com`, testPassword).Wait()
		},
		"authzid of another user": func(c *imapclient.Client) error {
			return c.Authenticate(sasl.NewPlainClient(`carol@example.com\info@example.com`, "bob@example.com", testPassword))
		},
		"wrong password": func(c *imapclient.Client) error { return c.Login(delegate, "wrong").Wait() },
	} {
		c, _ := e.dial("")
		if err := login(c); err == nil {
			t.Errorf("%s: login accepted", name)
		}
		c.Close()
	}
	c, _ := e.dial("")
	defer c.Close()
	wantCode(t, "no right", c.Login(`dave@example.com\info@example.com`, testPassword).Wait(), imap.ResponseCodeAuthorizationFailed)
}

// TestLoginStoreErrorIsTemporary (issue 15 #1): when the store fails, a
// login is NO [UNAVAILABLE], not a failed login.
func TestLoginStoreErrorIsTemporary(t *testing.T) {
	e := newEnv(t)
	c, _ := e.dial("")
	defer c.Close()
	e.st.Close()
	wantCode(t, "login with the store down", c.Login("bob@example.com", testPassword).Wait(), imap.ResponseCodeUnavailable)
}
