package admin

import (
	"context"
	"encoding/json"
	"testing"
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
	if _, err := h.Store.User(t.Context(), "dave@example.com"); err == nil {
		t.Error("user.add with a misspelt field still added the user")
	}
	// Absent and null arguments are fine for operations without any.
	for _, args := range []string{"", "null", " "} {
		if resp := h.Handle(context.Background(), Request{Op: "user.list", Args: json.RawMessage(args)}); resp.Error != "" {
			t.Errorf("user.list %q: %s", args, resp.Error)
		}
	}
}
