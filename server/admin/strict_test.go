package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// Admin arguments are decoded strictly: a misspelt field is an error that
// names it, never silently dropped (issue 15); the web console relies on
// the same behaviour over HTTPS.
func TestArgumentsDecodedStrictly(t *testing.T) {
	h, _ := newSharedHandler(t)
	for _, c := range []struct{ op, args, want string }{
		{"user.add", `{"address": "dave@example.com", "nmae": "Dave", "password": "long enough pw"}`, `unknown argument "nmae"`},
		{"domain.list", `{"verbose": true}`, `unknown argument "verbose"`},
		{"admin.grant", `{"address": "bob@example.com", "role": "users"} {"x": 1}`, "bad arguments: more than one JSON value"},
		{"queue.retry", `{"id": "seven"}`, "bad arguments: json: cannot unmarshal string into Go struct field queueArgs.id of type uint64"},
	} {
		resp := h.Handle(context.Background(), Request{Op: c.op, Args: json.RawMessage(c.args)})
		if resp.Error != c.want {
			t.Errorf("%s %s: error %q, want %q", c.op, c.args, resp.Error, c.want)
		}
	}
	if _, err := storeOf(h).User(t.Context(), "dave@example.com"); err == nil {
		t.Error("user.add with a misspelt field still added the user")
	}
	// Absent and null arguments are fine for operations without any.
	for _, args := range []string{"", "null", " "} {
		if resp := h.Handle(context.Background(), Request{Op: "user.list", Args: json.RawMessage(args)}); resp.Error != "" {
			t.Errorf("user.list %q: %s", args, resp.Error)
		}
	}
}

// TestArgumentsStrictOverSocket: the socket hands the same strict
// decoder the request line as it came, so a misspelt field is an answer
// naming it there too (the web console: console.TestAdminArgumentsStrictOverHTTPS).
func TestArgumentsStrictOverSocket(t *testing.T) {
	h, _ := newSharedHandler(t)
	dir := t.TempDir()
	ln, err := Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { Serve(ctx, ln, h, slog.New(slog.NewTextHandler(io.Discard, nil))); close(served) }()
	defer func() { cancel(); <-served }()
	c, err := net.Dial("unix", SocketPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, `{"op": "user.add", "args": {"address": "dave@example.com", "nmae": "Dave", "password": "long enough pw"}}`+"\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var resp Response
	if err := json.Unmarshal([]byte(line), &resp); err != nil || resp.Error != `unknown argument "nmae"` {
		t.Fatalf("socket answer %q (%v); want the error naming \"nmae\"", line, err)
	}
	if _, err := storeOf(h).User(t.Context(), "dave@example.com"); err == nil {
		t.Error("user.add with a misspelt field over the socket still added the user")
	}
}
