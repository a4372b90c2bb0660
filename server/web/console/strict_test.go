package console_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestAdminArgumentsStrictOverHTTPS (issue 15): the console sends admin
// arguments to the same strict decoder as the socket and the CLI, so a
// misspelt field is a 400 that names it and nothing is changed.
func TestAdminArgumentsStrictOverHTTPS(t *testing.T) {
	f := newFixture(t)
	c := f.login(t, "pm")
	st, body := c.op("user.add", map[string]string{"address": "dave@example.com", "nmae": "Dave", "password": "a long enough password"})
	if st != http.StatusBadRequest || errorOf(body) != `unknown argument "nmae"` {
		t.Fatalf("user.add with \"nmae\": %d %s; want 400 naming the field", st, body)
	}
	st, body = c.op("user.list", nil)
	if st != http.StatusOK || strings.Contains(string(body), "dave@example.com") {
		t.Fatalf("after the refused user.add: %d %s", st, body)
	}
}
