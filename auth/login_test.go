package auth

import (
	"errors"
	"testing"
)

func TestParseLogin(t *testing.T) {
	tests := []struct{ in, user, actAs string }{
		{`alice@example.com\info@example.com`, "alice@example.com", "info@example.com"},
		{"alice@example.com", "alice@example.com", ""},
		{`alice@example.com\`, "alice@example.com", ""},
		{`\info@example.com`, "", "info@example.com"},
		{`a\b\c`, "a", `b\c`},
		{"", "", ""},
	}
	for _, tt := range tests {
		u, a := ParseLogin(tt.in)
		if u != tt.user || a != tt.actAs {
			t.Errorf("ParseLogin(%q) = %q, %q; want %q, %q", tt.in, u, a, tt.user, tt.actAs)
		}
	}
}

func TestResolveIdentity(t *testing.T) {
	tests := []struct {
		authzid, username, user, actAs string
		err                            bool
	}{
		{"", "alice@x", "alice@x", "", false},
		{"", `alice@x\info@x`, "alice@x", "info@x", false},
		{"info@x", "alice@x", "alice@x", "info@x", false},
		{"info@x", `alice@x\INFO@x`, "alice@x", "info@x", false},
		{"alice@x", "alice@x", "alice@x", "", false}, // authzid = self
		{"", `alice@x\Alice@X`, "alice@x", "", false},
		{"sales@x", `alice@x\info@x`, "", "", true},
		{`alice@x\info@x`, `alice@x\info@x`, "alice@x", "info@x", false}, // mbsync
		{`ALICE@x\info@x`, `alice@x\Info@x`, "alice@x", "Info@x", false},
		{`alice@x\info@x`, "alice@x", "alice@x", "info@x", false},
		{`bob@x\info@x`, "alice@x", "", "", true},
		{`alice@x\sales@x`, `alice@x\info@x`, "", "", true},
		{"info@x", "", "", "", true},
		{"", `\info@x`, "", "", true},
	}
	for _, tt := range tests {
		u, a, err := ResolveIdentity(tt.authzid, tt.username)
		if (err != nil) != tt.err || u != tt.user || a != tt.actAs {
			t.Errorf("ResolveIdentity(%q, %q) = %q, %q, %v", tt.authzid, tt.username, u, a, err)
		}
	}
	if _, _, err := ResolveIdentity("sales@x", `alice@x\info@x`); !errors.Is(err, ErrIdentityConflict) {
		t.Errorf("want ErrIdentityConflict, got %v", err)
	}
}
