package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// Every error about something unknown names the command that shows or
// fixes it (issue 14), and is one line with exit code 1.
func TestCLIErrorsNameTheFix(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	g := []string{"--config", testConfig(t, data)}
	mustRun(t, "", append([]string{"domain", "add", "example.com"}, g...)...)
	mustRun(t, "correct horse battery\n", append([]string{"user", "add", "alice@example.com", "--password-stdin"}, g...)...)
	mustRun(t, "", append([]string{"shared", "create", "info@example.com", "--name", "Info", "--owner", "alice@example.com"}, g...)...)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "passwd", "nobody@example.com", "--password-stdin"}, "user nobody@example.com: not found (see `mailsrv user list`)"},
		{[]string{"user", "remove", "nobody@example.com"}, "user nobody@example.com: not found (see `mailsrv user list`)"},
		{[]string{"shared", "show", "sales@example.com"}, "(see `mailsrv shared list`)"},
		{[]string{"shared", "grant", "sales@example.com", "alice@example.com", "--rights", "read"}, "(see `mailsrv shared list`)"},
		{[]string{"shared", "grant", "info@example.com", "bob@example.com", "--rights", "read"}, "member bob@example.com is not a local user (see `mailsrv user list`"},
		{[]string{"shared", "revoke", "info@example.com", "bob@example.com"}, "(see `mailsrv shared show info@example.com`)"},
		{[]string{"shared", "create", "x@nowhere.org", "--owner", "alice@example.com"}, "add it with `mailsrv domain add nowhere.org`"},
		{[]string{"shared", "create", "sales@example.com", "--owner", "ghost@example.com"}, "owner ghost@example.com is not a local user (see `mailsrv user list`"},
		{[]string{"alias", "remove", "sales@example.com"}, "alias sales@example.com: not found (see `mailsrv alias list`)"},
		{[]string{"alias", "add", "sales@example.com", "ghost@example.com"}, "(see `mailsrv user list` and `mailsrv shared list`)"},
		{[]string{"domain", "records", "other.org"}, "domain other.org: not a local domain (see `mailsrv domain list`, or add it with `mailsrv domain add other.org`)"},
		{[]string{"domain", "remove", "other.org"}, "(see `mailsrv domain list`"},
		{[]string{"mailbox", "backup", "ghost@example.com", "--to", "alice@example.com"}, "(see `mailsrv user list` and `mailsrv shared list`)"},
		{[]string{"mailbox", "reassign", "info@example.com", "--to", "ghost@example.com"}, "user ghost@example.com is not a local user (see `mailsrv user list`"},
		{[]string{"queue", "drop", "99"}, "queue item 99: not found (see `mailsrv queue list`)"},
		{[]string{"trash", "restore", "99"}, "recycle bin item 99: not found (see `mailsrv trash list`)"},
		{[]string{"trash", "purge", "99"}, "(see `mailsrv trash list`)"},
		{[]string{"admin", "grant", "ghost@example.com", "users"}, "(see `mailsrv user list`)"},
	} {
		out, code := run(t, "long enough password\n", append(c.args, g...)...)
		if code != 1 || !strings.Contains(out, c.want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("mailsrv %s: exit %d %q, want one line containing %q", strings.Join(c.args, " "), code, out, c.want)
		}
	}
	// Durations take days on the command line as in the config file.
	mustRun(t, "", append([]string{"shared", "audit", "info@example.com", "--since", "2d"}, g...)...)
	mustRun(t, "", append([]string{"trash", "purge", "--older-than", "1.5d"}, g...)...)
	if out, code := run(t, "", append([]string{"trash", "purge", "--older-than", "soon"}, g...)...); code != 2 || !strings.Contains(out, `invalid duration "soon": write it like 90s, 15m, 4h or 30d`) {
		t.Errorf("bad duration: exit %d %q", code, out)
	}
}
