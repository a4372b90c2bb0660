package auth

import (
	"bytes"
	"errors"
	"testing"

	"github.com/emersion/go-sasl"
)

var errBadCreds = errors.New("bad credentials")

// checkCreds is an authenticator accepting alice/secret only, recording
// what it was called with.
type checkCreds struct{ user, pass string }

func (c *checkCreds) login(user, pass string) error {
	c.user, c.pass = user, pass
	if user == "alice@example.com" && pass == "secret" {
		return nil
	}
	return errBadCreds
}

// runExchange drives server with client the way go-smtp and go-imap do:
// the client's initial response (if any) goes first, then challenges and
// responses alternate until the server is done.
func runExchange(t *testing.T, client sasl.Client, server sasl.Server) error {
	t.Helper()
	_, ir, err := client.Start()
	if err != nil {
		t.Fatal(err)
	}
	resp := ir
	for range 10 {
		challenge, done, err := server.Next(resp)
		if done || err != nil {
			return err
		}
		if resp, err = client.Next(challenge); err != nil {
			return err
		}
	}
	t.Fatal("exchange did not finish")
	return nil
}

func TestLoginWithGoSASLClient(t *testing.T) {
	var c checkCreds
	if err := runExchange(t, sasl.NewLoginClient("alice@example.com", "secret"), NewLoginServer(c.login)); err != nil {
		t.Fatalf("good login failed: %v", err)
	}
	if c.user != "alice@example.com" || c.pass != "secret" {
		t.Errorf("authenticator got %q/%q", c.user, c.pass)
	}
	err := runExchange(t, sasl.NewLoginClient("alice@example.com", "wrong"), NewLoginServer(c.login))
	if !errors.Is(err, errBadCreds) {
		t.Fatalf("wrong password: got %v", err)
	}
	// Delegate login names pass through untouched.
	runExchange(t, sasl.NewLoginClient(`alice@example.com\info@example.com`, "secret"), NewLoginServer(c.login))
	if c.user != `alice@example.com\info@example.com` {
		t.Errorf("delegate name mangled: %q", c.user)
	}
}

// TestLoginWithoutInitialResponse is the Outlook flow: AUTH LOGIN alone,
// then "Username:" and "Password:" challenges.
func TestLoginWithoutInitialResponse(t *testing.T) {
	for _, ir := range [][]byte{nil, {}} {
		var c checkCreds
		s := NewLoginServer(c.login)
		ch, done, err := s.Next(ir)
		if err != nil || done || string(ch) != "Username:" {
			t.Fatalf("first step: %q %v %v", ch, done, err)
		}
		ch, done, err = s.Next([]byte("alice@example.com"))
		if err != nil || done || string(ch) != "Password:" {
			t.Fatalf("second step: %q %v %v", ch, done, err)
		}
		ch, done, err = s.Next([]byte("secret"))
		if err != nil || !done || ch != nil {
			t.Fatalf("third step: %q %v %v", ch, done, err)
		}
		// The exchange is over: more input is a protocol error.
		if _, _, err := s.Next([]byte("x")); !errors.Is(err, sasl.ErrUnexpectedClientResponse) {
			t.Errorf("after done: %v", err)
		}
	}
}

func TestLoginEmptyPassword(t *testing.T) {
	var c checkCreds
	s := NewLoginServer(c.login)
	s.Next([]byte("alice@example.com"))
	if _, done, err := s.Next(nil); !done || !errors.Is(err, errBadCreds) || c.pass != "" {
		t.Errorf("empty password: done=%v err=%v pass=%q", done, err, c.pass)
	}
}

func TestPlainPassesAuthzid(t *testing.T) {
	var gotID, gotUser, gotPass string
	auth := func(id, user, pass string) error {
		gotID, gotUser, gotPass = id, user, pass
		if pass != "secret" {
			return errBadCreds
		}
		return nil
	}
	err := runExchange(t, sasl.NewPlainClient("info@example.com", "alice@example.com", "secret"), NewPlainServer(auth))
	if err != nil || gotID != "info@example.com" || gotUser != "alice@example.com" || gotPass != "secret" {
		t.Fatalf("plain: err=%v id=%q user=%q pass=%q", err, gotID, gotUser, gotPass)
	}
	if err := runExchange(t, sasl.NewPlainClient("", "alice@example.com", "nope"), NewPlainServer(auth)); !errors.Is(err, errBadCreds) {
		t.Errorf("wrong password: %v", err)
	}
	// No initial response: empty challenge, then the response.
	s := NewPlainServer(auth)
	ch, done, err := s.Next(nil)
	if err != nil || done || !bytes.Equal(ch, []byte{}) {
		t.Fatalf("no-IR first step: %q %v %v", ch, done, err)
	}
	if _, done, err = s.Next([]byte("\x00alice@example.com\x00secret")); err != nil || !done || gotID != "" {
		t.Fatalf("no-IR second step: %v %v %q", done, err, gotID)
	}
	// Malformed: error, never a panic.
	if _, _, err := NewPlainServer(auth).Next([]byte("garbage")); err == nil {
		t.Error("malformed PLAIN accepted")
	}
}
