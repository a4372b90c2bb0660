package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailsrv/server"
	"mailsrv/server/admin"
	"mailsrv/server/config"
)

// The team commands of SPEC §4 (shared assign, done, queue) against a
// running server (admin socket) and a stopped one (offline): mail comes
// in through the MX, a reply goes out through submission as info@, and
// the queue reflects assignment, completion and the answer.
func TestSharedTeamCLI(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	conf := testConfig(t, data)
	cli := func(stdin string, args ...string) (string, int) {
		t.Helper()
		return run(t, stdin, append(args, "--config", conf)...)
	}
	must := func(args ...string) string {
		t.Helper()
		out, code := cli("", args...)
		if code != 0 {
			t.Fatalf("mailsrv %s: exit %d: %s", strings.Join(args, " "), code, out)
		}
		return out
	}
	must("domain", "add", "example.com")
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		if out, code := cli(u+"-password-long\n", "user", "add", u+"@example.com", "--password-stdin"); code != 0 {
			t.Fatalf("user add: %s", out)
		}
	}
	must("shared", "create", "info@example.com", "--name", "Info", "--owner", "alice@example.com")
	must("shared", "grant", "info@example.com", "bob@example.com", "--rights", "read,manage")
	must("shared", "grant", "info@example.com", "carol@example.com", "--rights", "read")

	cfg, err := config.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(t.Context(), cfg, server.NewLogger(cfg.Log, os.Stderr))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}
	}
	defer stop()
	waitForSocket(t, data)

	for i, id := range []string{"q1@remote.example", "q2@remote.example", "q3@remote.example"} {
		msg := "From: Customer <c@remote.example>\r\nTo: info@example.com\r\nSubject: question " + string(rune('1'+i)) +
			"\r\nMessage-ID: <" + id + ">\r\n\r\nhello\r\n"
		mx, err := smtp.Dial(srv.Addr("smtp").String())
		if err != nil {
			t.Fatal(err)
		}
		if err := mx.SendMail("c@remote.example", []string{"info@example.com"}, strings.NewReader(msg)); err != nil {
			t.Fatalf("MX: %v", err)
		}
		mx.Quit()
	}
	queue := func(args ...string) []admin.QueueEntry {
		t.Helper()
		var es []admin.QueueEntry
		if err := json.Unmarshal([]byte(must(append([]string{"shared", "queue", "info@example.com", "--json"}, args...)...)), &es); err != nil {
			t.Fatal(err)
		}
		return es
	}
	ids := func(es []admin.QueueEntry) string {
		var out []string
		for _, e := range es {
			out = append(out, e.MessageID)
		}
		return strings.Join(out, " ")
	}
	if got := ids(queue()); got != "<q1@remote.example> <q2@remote.example> <q3@remote.example>" {
		t.Fatalf("queue, oldest first: %s", got)
	}
	if out := must("shared", "assign", "info@example.com", "<q1@remote.example>", "--to", "Carol@example.com"); !strings.Contains(out, "assigned to carol@example.com") {
		t.Errorf("assign: %s", out)
	}
	must("shared", "assign", "info@example.com", "q2@remote.example", "--to", "bob@example.com")
	must("shared", "assign", "info@example.com", "q2@remote.example", "--to", "alice@example.com") // replaces bob
	// A non-member is refused with a reason, exit 1; --to and --none together is usage.
	if out, code := cli("", "shared", "assign", "info@example.com", "q3@remote.example", "--to", "dave@example.com"); code != 1 || !strings.Contains(out, "not a member") {
		t.Errorf("assign to a non-member: exit %d %s", code, out)
	}
	if _, code := cli("", "shared", "assign", "info@example.com", "q3@remote.example", "--to", "bob@example.com", "--none"); code != 2 {
		t.Errorf("--to with --none: exit %d, want 2", code)
	}
	if got := ids(queue("--assigned-to", "carol@example.com")); got != "<q1@remote.example>" {
		t.Errorf("--assigned-to carol: %s", got)
	}
	if got := ids(queue("--assigned-to", "alice@example.com")); got != "<q2@remote.example>" {
		t.Errorf("--assigned-to alice: %s", got)
	}
	if got := ids(queue("--unassigned")); got != "<q3@remote.example>" {
		t.Errorf("--unassigned: %s", got)
	}
	must("shared", "done", "info@example.com", "q1@remote.example")

	// bob answers q3 as info@ from his own client: the server's Sent copy
	// marks the original answered.
	sub, err := smtp.DialStartTLS(srv.Addr("submission").String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Auth(sasl.NewPlainClient("", "bob@example.com", "bob-password-long")); err != nil {
		t.Fatal(err)
	}
	must("shared", "grant", "info@example.com", "bob@example.com", "--rights", "read,manage,send")
	reply := "From: Info <info@example.com>\r\nTo: c@remote.example\r\nSubject: Re: question 3\r\nMessage-ID: <a3@example.com>\r\n" +
		"In-Reply-To: <q3@remote.example>\r\nReferences: <q3@remote.example>\r\n\r\nanswer\r\n"
	if err := sub.SendMail("info@example.com", []string{"alice@example.com"}, strings.NewReader(reply)); err != nil {
		t.Fatalf("submission: %v", err)
	}
	sub.Quit()
	online := must("shared", "queue", "info@example.com", "--unanswered", "--json")
	var es []admin.QueueEntry
	json.Unmarshal([]byte(online), &es)
	if got := ids(es); got != "<q2@remote.example>" {
		t.Errorf("--unanswered after done(q1) and the reply to q3: %s", got)
	}
	if len(es) == 1 && (es[0].AssignedTo != "alice@example.com" || es[0].AgeSeconds < 0) {
		t.Errorf("entry: %+v", es[0])
	}
	text := must("shared", "queue", "info@example.com")
	if !strings.Contains(text, "done") || !strings.Contains(text, "answered") || !strings.Contains(text, "carol@example.com") {
		t.Errorf("text queue:\n%s", text)
	}
	audit := must("shared", "audit", "info@example.com", "--json")
	for _, want := range []string{`"action": "assign"`, `"action": "unassign"`, `"action": "done"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %s", want)
		}
	}

	// Offline, the same command answers the same.
	stop()
	offline := must("shared", "queue", "info@example.com", "--unanswered", "--json")
	var off []admin.QueueEntry
	json.Unmarshal([]byte(offline), &off)
	if ids(off) != ids(es) {
		t.Errorf("offline queue %s, online %s", ids(off), ids(es))
	}
	must("shared", "done", "info@example.com", "q1@remote.example", "--undo")
	must("shared", "assign", "info@example.com", "q1@remote.example", "--none")
	if got := ids(queue("--unassigned", "--unanswered")); got != "<q1@remote.example>" {
		t.Errorf("offline after undo and unassign: %s", got)
	}
}

// vacation set|show|off and shared set, offline (the same admin
// operations the running server answers on its socket).
func TestVacationAndSharedSetCLI(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	conf := testConfig(t, data)
	cli := func(args ...string) (string, int) {
		t.Helper()
		return run(t, "", append(args, "--config", conf)...)
	}
	must := func(args ...string) string {
		t.Helper()
		out, code := cli(args...)
		if code != 0 {
			t.Fatalf("mailsrv %s: exit %d: %s", strings.Join(args, " "), code, out)
		}
		return out
	}
	must("domain", "add", "example.com")
	must("user", "add", "alice@example.com")
	must("shared", "create", "info@example.com", "--name", "Info")
	body := filepath.Join(t.TempDir(), "away.txt")
	os.WriteFile(body, []byte("I am away until Monday.\n"), 0o600)

	must("vacation", "set", "alice@example.com", "--body-file", body, "--subject", "Away", "--until", "2999-01-02")
	var info admin.AutoReplyInfo
	if err := json.Unmarshal([]byte(must("vacation", "show", "alice@example.com", "--json")), &info); err != nil {
		t.Fatal(err)
	}
	if !info.Enabled || !info.Active || info.Subject != "Away" || info.Until == nil || info.Body != "I am away until Monday.\n" {
		t.Errorf("vacation show: %+v", info)
	}
	if out := must("vacation", "show", "alice@example.com"); !strings.Contains(out, "auto-reply:    on") {
		t.Errorf("vacation show text: %s", out)
	}
	must("vacation", "off", "alice@example.com")
	if out := must("vacation", "show", "alice@example.com"); !strings.Contains(out, "auto-reply:    off") {
		t.Errorf("after off: %s", out)
	}
	for _, bad := range [][]string{
		{"vacation", "set", "alice@example.com", "--body-file", body, "--until", "yesterday"},
		{"vacation", "set", "alice@example.com", "--body-file", body, "--until", "2001-01-01"},
		{"vacation", "set", "info@example.com", "--body-file", body},
	} {
		if out, code := cli(bad...); code != 1 {
			t.Errorf("%v: exit %d, want 1: %s", bad, code, out)
		}
	}
	if _, code := cli("vacation", "set", "alice@example.com", "--body-file", filepath.Join(t.TempDir(), "missing")); code != 2 {
		t.Errorf("missing body file: exit %d, want 2", code)
	}

	must("shared", "set", "info@example.com", "--auto-reply-file", body, "--remind-after", "4h")
	info = admin.AutoReplyInfo{}
	if err := json.Unmarshal([]byte(must("shared", "set", "info@example.com", "--remind-after", "2d", "--json")), &info); err != nil {
		t.Fatal(err)
	}
	if !info.Enabled || info.RemindAfter != "48h0m0s" {
		t.Errorf("shared set: %+v", info)
	}
	if _, code := cli("shared", "set", "info@example.com", "--auto-reply-file", body, "--no-auto-reply"); code != 2 {
		t.Errorf("both auto-reply flags: exit %d, want 2", code)
	}
	if _, code := cli("shared", "set", "info@example.com"); code != 2 {
		t.Errorf("nothing to set: exit %d, want 2", code)
	}
	must("shared", "set", "info@example.com", "--no-auto-reply", "--remind-after", "0")
	info = admin.AutoReplyInfo{}
	if err := json.Unmarshal([]byte(must("shared", "set", "info@example.com", "--no-auto-reply", "--json")), &info); err != nil {
		t.Fatal(err)
	}
	if info.Enabled || info.RemindAfter != "" {
		t.Errorf("after --no-auto-reply --remind-after 0: %+v", info)
	}
	audit := must("shared", "audit", "info@example.com")
	if !strings.Contains(audit, "auto-reply on") || !strings.Contains(audit, "auto-reply off") {
		t.Errorf("audit:\n%s", audit)
	}
}
