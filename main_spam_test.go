package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"mailsrv/server/admin"
	"mailsrv/store"
)

// `mailsrv spam show|reset` report and clear a mailbox's junk filter.
func TestCLISpamShowReset(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	conf := testConfig(t, data)
	for _, args := range [][]string{
		{"domain", "add", "example.com"},
		{"user", "add", "alice@example.com", "--password-stdin"},
	} {
		if out, code := run(t, "alice-password\n", append([]string{"--config", conf}, args...)...); code != 0 {
			t.Fatalf("%v: %d %s", args, code, out)
		}
	}
	st, err := store.Open(data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := st.User(t.Context(), "alice@example.com")
	for i := 0; i < 12; i++ {
		if _, err := st.SpamTrain(t.Context(), a.MailboxID, store.SpamSample{Key: fmt.Sprint("m", i), Spam: i%3 == 0, Tokens: []uint64{1, 2, uint64(100 + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	out, code := run(t, "", "--config", conf, "spam", "show", "Alice@Example.com", "--json")
	var info admin.SpamInfo
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil {
		t.Fatalf("spam show --json: %d %s", code, out)
	}
	if info.Address != "alice@example.com" || info.Spam != 4 || info.Ham != 8 || info.Trained != 12 || info.Tokens != 14 || !info.Enabled || info.Ready {
		t.Fatalf("spam show: %+v", info)
	}
	if out, _ := run(t, "", "--config", conf, "spam", "show", "alice@example.com"); !strings.Contains(out, "spam:") ||
		!strings.Contains(out, "4 messages") || !strings.Contains(out, "learning") {
		t.Fatalf("spam show text:\n%s", out)
	}
	if out, code := run(t, "", "--config", conf, "spam", "reset", "alice@example.com"); code != 0 || !strings.Contains(out, "reset") {
		t.Fatalf("spam reset: %d %s", code, out)
	}
	out, _ = run(t, "", "--config", conf, "spam", "show", "alice@example.com", "--json")
	if json.Unmarshal([]byte(out), &info) != nil || info.Spam != 0 || info.Ham != 0 || info.Tokens != 0 {
		t.Fatalf("after reset: %s", out)
	}
	if out, code := run(t, "", "--config", conf, "spam", "show", "nobody@example.com"); code != 1 || !strings.Contains(out, "nobody@example.com") {
		t.Fatalf("unknown mailbox: %d %s", code, out)
	}
}
