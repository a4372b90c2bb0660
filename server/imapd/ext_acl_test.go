package imapd

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailsrv/auth/acl"
	"mailsrv/server/admin"
	"mailsrv/store"
)

const infoInbox = "Shared/info@example.com/INBOX"

// syncBuf is a log sink the server writes from its goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// RFC 2971: ID answers with the server's name in any state, and the
// client's fields are logged on the connection's line.
func TestIDCommand(t *testing.T) {
	e := newEnv(t)
	logs := &syncBuf{}
	e.srv.Close()
	e.start(Options{Log: slog.New(slog.NewTextHandler(logs, nil))})

	rc := rawLogin(t, e.addr, "bob@example.com")
	untagged, tagged := rc.Cmd(`ID ("name" "Thunderbird" "version" "128.5.0" "os" NIL)`)
	if !strings.HasPrefix(tagged, " OK") || len(untagged) != 1 || !strings.HasPrefix(untagged[0], `* ID ("name" "mailsrv" "version" `) {
		t.Fatalf("ID: %q %q", untagged, tagged)
	}
	if untagged, tagged = rc.Cmd("ID NIL"); !strings.HasPrefix(tagged, " OK") || !strings.Contains(untagged[0], `"mailsrv"`) {
		t.Fatalf("ID NIL: %q %q", untagged, tagged)
	}
	if _, tagged = rc.Cmd(`ID ("name")`); !strings.HasPrefix(tagged, " BAD") {
		t.Fatalf("ID with a key and no value: want BAD, got %q", tagged)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "id.name=Thunderbird") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "client id") {
			line = l
		}
	}
	if !strings.Contains(line, "conn=i") || !strings.Contains(line, "id.name=Thunderbird") || !strings.Contains(line, "id.version=128.5.0") {
		t.Fatalf("want the client's ID on a log line with the connection id, got %q", line)
	}

	// Before login too (Thunderbird may send it first), and go-imap's
	// client parses the answer.
	c, _ := e.dial("")
	if !c.Caps().Has(imap.CapID) {
		t.Fatalf("CAPABILITY before login lacks ID: %v", c.Caps())
	}
	data, err := c.ID(&imap.IDData{Name: "test"}).Wait()
	if err != nil || data.Name != "mailsrv" || data.Version == "" {
		t.Fatalf("ID before login: %+v %v", data, err)
	}
}

func TestACLCapabilities(t *testing.T) {
	e := newEnv(t)
	c, _ := e.dial("bob@example.com")
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []imap.Cap{imap.CapACL, "RIGHTS=TEXK", imap.CapListMyRights, imap.CapID} {
		if !caps.Has(want) {
			t.Errorf("CAPABILITY lacks %s: %v", want, caps)
		}
	}
	// RFC 4314 §2.1: the letters are lower case on the wire.
	rc := rawLogin(t, e.addr, "bob@example.com")
	if untagged, _ := rc.Cmd("CAPABILITY"); !containsLine(untagged, " RIGHTS=texk") {
		t.Errorf("CAPABILITY: %q", untagged)
	}
}

// SPEC §5 letters over RFC 4314 MYRIGHTS, for every kind of folder.
func TestACLMyRights(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ user, mailbox, want string }{
		{"bob@example.com", infoInbox, "lrs"},
		{"carol@example.com", infoInbox, "lrswiktecx"},
		{"alice@example.com", infoInbox, "lrswiktecxa"},
		{"alice@example.com", "Shared/info@example.com", "lrswiktecxa"},
		{"bob@example.com", "INBOX", "lrswiktecxa"},
		{"bob@example.com", "Sent", "lrswiktecxa"},
		{`bob@example.com\info@example.com`, "INBOX", "lrs"},
		{`carol@example.com\info@example.com`, "Sent", "lrswiktecx"},
	} {
		c, _ := e.dial(tc.user)
		d, err := c.MyRights(tc.mailbox).Wait()
		if err != nil {
			t.Fatalf("%s MYRIGHTS %s: %v", tc.user, tc.mailbox, err)
		}
		if !d.Rights.Equal(imap.RightSet(tc.want)) {
			t.Errorf("%s MYRIGHTS %s = %q, want %q", tc.user, tc.mailbox, d.Rights, tc.want)
		}
		c.Close()
	}
	// A shared mailbox dave cannot read does not exist for him.
	c, _ := e.dial("dave@example.com")
	_, err := c.MyRights(infoInbox).Wait()
	wantCode(t, "dave MYRIGHTS", err, imap.ResponseCodeNonExistent)
	_, err = c.MyRights("NoSuchFolder").Wait()
	wantCode(t, "MYRIGHTS of a missing folder", err, imap.ResponseCodeNonExistent)
}

// A member who is not the owner (Thunderbird's sharing dialog) gets NO
// [NOPERM] and nothing changes; GETACL needs "a" too.
func TestACLNonOwnerRefused(t *testing.T) {
	e := newEnv(t)
	c, _ := e.dial("carol@example.com")
	err := c.SetACL(infoInbox, "dave@example.com", imap.RightModificationReplace, imap.RightSet("lrswipcd")).Wait()
	wantCode(t, "carol SETACL", err, imap.ResponseCodeNoPerm)
	_, err = c.GetACL(infoInbox).Wait()
	wantCode(t, "carol GETACL", err, imap.ResponseCodeNoPerm)
	rc := rawLogin(t, e.addr, "bob@example.com")
	if _, tagged := rc.Cmd(`DELETEACL "` + infoInbox + `" carol@example.com`); !strings.Contains(tagged, "NO [NOPERM]") {
		t.Fatalf("bob DELETEACL: %s", tagged)
	}
	if r, _ := e.st.RightsOf(t.Context(), e.info.ID, "dave@example.com"); r != 0 {
		t.Fatalf("dave got %v from a refused SETACL", r)
	}
	if r, _ := e.st.RightsOf(t.Context(), e.info.ID, "carol@example.com"); !r.Has(acl.Manage) {
		t.Fatalf("carol lost her rights to a refused DELETEACL: %v", r)
	}
	// Personal folders are not shared.
	own, _ := e.dial("dave@example.com")
	err = own.SetACL("INBOX", "bob@example.com", imap.RightModificationReplace, imap.RightSet("lrs")).Wait()
	wantCode(t, "SETACL on a personal folder", err, imap.ResponseCodeCannot)
}

func sharedShow(t *testing.T, st *store.Store, addr string) admin.SharedInfo {
	t.Helper()
	h := &admin.Handler{Store: st}
	args, _ := json.Marshal(map[string]string{"address": addr})
	resp := h.Handle(context.Background(), admin.Request{Op: "shared.show", Args: args})
	if resp.Error != "" {
		t.Fatalf("shared show: %s", resp.Error)
	}
	var info admin.SharedInfo
	if err := json.Unmarshal(resp.Data, &info); err != nil {
		t.Fatal(err)
	}
	return info
}

func memberRights(info admin.SharedInfo, member string) string {
	for _, m := range info.Members {
		if m.Member == member {
			return m.Rights
		}
	}
	return ""
}

// The owner's SETACL is `shared grant`: the member shows in `shared show`
// and the audit log; DELETEACL is `shared revoke` and ends the member's
// open selection at its next command.
func TestACLOwnerSetAndDelete(t *testing.T) {
	e := newEnv(t)
	e.deliver(e.info.ID, "INBOX", testMessage(1))
	owner, _ := e.dial("alice@example.com")
	if err := owner.SetACL(infoInbox, "dave@example.com", imap.RightModificationReplace, imap.RightSet("lrs")).Wait(); err != nil {
		t.Fatalf("owner SETACL: %v", err)
	}
	if got := memberRights(sharedShow(t, e.st, "info@example.com"), "dave@example.com"); got != "read" {
		t.Fatalf("after SETACL lrs, shared show has dave with %q, want read", got)
	}
	dave := rawLogin(t, e.addr, "dave@example.com")
	untagged, tagged := dave.Cmd(`MYRIGHTS "` + infoInbox + `"`)
	if !strings.HasPrefix(tagged, " OK") || !containsLine(untagged, `MYRIGHTS "`+infoInbox+`" lrs`) {
		t.Fatalf("dave MYRIGHTS: %q %q", untagged, tagged)
	}
	if _, tagged := dave.Cmd(`SELECT "` + infoInbox + `"`); !strings.Contains(tagged, "READ-ONLY") {
		t.Fatalf("dave SELECT: %s", tagged)
	}
	// "+w" raises to manage; GETACL shows owner and members.
	if err := owner.SetACL(infoInbox, "dave@example.com", imap.RightModificationAdd, imap.RightSet("w")).Wait(); err != nil {
		t.Fatal(err)
	}
	if got := memberRights(sharedShow(t, e.st, "info@example.com"), "dave@example.com"); got != "read,manage" {
		t.Fatalf("after SETACL +w: %q, want read,manage", got)
	}
	acls, err := owner.GetACL(infoInbox).Wait()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"alice@example.com": "lrswiktecxa", "bob@example.com": "lrs", "carol@example.com": "lrswiktecx", "dave@example.com": "lrswiktecx"}
	if len(acls.Rights) != len(want) {
		t.Fatalf("GETACL: %v", acls.Rights)
	}
	for id, rs := range acls.Rights {
		if !rs.Equal(imap.RightSet(want[string(id)])) {
			t.Errorf("GETACL %s = %q, want %q", id, rs, want[string(id)])
		}
	}
	entries, err := e.st.AuditLog(t.Context(), e.info.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	grants := 0
	for _, a := range entries {
		if a.Action == "grant" && a.Actor == "alice@example.com" && strings.HasPrefix(a.Detail, "dave@example.com") {
			grants++
		}
	}
	if grants != 2 {
		t.Fatalf("want 2 grant audit entries by alice for dave, got %+v", entries)
	}

	// DELETEACL: dave's open selection ends at his next command.
	ownerRaw := rawLogin(t, e.addr, "alice@example.com")
	if _, tagged := ownerRaw.Cmd(`DELETEACL "` + infoInbox + `" dave@example.com`); !strings.HasPrefix(tagged, " OK") {
		t.Fatalf("DELETEACL: %s", tagged)
	}
	if got := memberRights(sharedShow(t, e.st, "info@example.com"), "dave@example.com"); got != "" {
		t.Fatalf("after DELETEACL dave still has %q", got)
	}
	untagged, _ = dave.Cmd("NOOP")
	checkRevokedNotice(t, "dave", untagged)

	// LISTRIGHTS: nothing is always granted; read's letters go together,
	// and so do manage's. The owner holds all of them.
	untagged, tagged = ownerRaw.Cmd(`LISTRIGHTS "` + infoInbox + `" dave@example.com`)
	if !strings.HasPrefix(tagged, " OK") || !containsLine(untagged, `* LISTRIGHTS "`+infoInbox+`" "dave@example.com" "" lrs wiktecx`) {
		t.Fatalf("LISTRIGHTS: %q %q", untagged, tagged)
	}
	untagged, _ = ownerRaw.Cmd(`LISTRIGHTS "` + infoInbox + `" alice@example.com`)
	if !containsLine(untagged, `"alice@example.com" lrswiktecxa`) {
		t.Fatalf("LISTRIGHTS owner: %q", untagged)
	}
	if _, tagged := dave.Cmd(`LISTRIGHTS "` + infoInbox + `" dave@example.com`); !strings.Contains(tagged, "NO") {
		t.Fatalf("LISTRIGHTS by a non-member: %s", tagged)
	}

	// The owner cannot be revoked, nor given fewer rights.
	if _, tagged := ownerRaw.Cmd(`DELETEACL "` + infoInbox + `" alice@example.com`); !strings.Contains(tagged, "NO [CANNOT]") || !strings.Contains(tagged, "owner") {
		t.Fatalf("DELETEACL owner: %s", tagged)
	}
	err = owner.SetACL(infoInbox, "alice@example.com", imap.RightModificationReplace, imap.RightSet("lr")).Wait()
	wantCode(t, "SETACL owner", err, imap.ResponseCodeCannot)
	// An unknown member is refused with the store's sentence.
	err = owner.SetACL(infoInbox, "nobody@example.com", imap.RightModificationReplace, imap.RightSet("lrs")).Wait()
	if err == nil || !strings.Contains(err.Error(), "not a local user") {
		t.Fatalf("SETACL for a non-user: %v", err)
	}
}

// Send rights have no letter: an IMAP change keeps them; an empty set
// revokes the member (SPEC §5).
func TestACLKeepsSendRights(t *testing.T) {
	e := newEnv(t)
	if err := e.st.Grant(t.Context(), e.info.ID, "bob@example.com", acl.Read|acl.Send, 0, "admin"); err != nil {
		t.Fatal(err)
	}
	owner, _ := e.dial("alice@example.com")
	if err := owner.SetACL(infoInbox, "bob@example.com", imap.RightModificationReplace, imap.RightSet("lrswi")).Wait(); err != nil {
		t.Fatal(err)
	}
	if got := memberRights(sharedShow(t, e.st, "info@example.com"), "bob@example.com"); got != "read,manage,send" {
		t.Fatalf("bob after SETACL lrswi: %q, want read,manage,send", got)
	}
	if err := owner.SetACL(infoInbox, "bob@example.com", imap.RightModificationRemove, imap.RightSet("wiktecx")).Wait(); err != nil {
		t.Fatal(err)
	}
	if got := memberRights(sharedShow(t, e.st, "info@example.com"), "bob@example.com"); got != "read,send" {
		t.Fatalf("bob after SETACL -wiktecx: %q, want read,send", got)
	}
	if err := owner.SetACL(infoInbox, "bob@example.com", imap.RightModificationReplace, imap.RightSet("")).Wait(); err != nil {
		t.Fatal(err)
	}
	if got := memberRights(sharedShow(t, e.st, "info@example.com"), "bob@example.com"); got != "" {
		t.Fatalf("bob after SETACL \"\": %q, want revoked", got)
	}
}

// An admin with role shared-mailboxes may change the members of a shared
// mailbox it is no member of; the member limit of the config applies.
func TestACLAdminRoleAndLimit(t *testing.T) {
	e := newEnv(t)
	if _, err := e.st.GrantRole(t.Context(), "dave@example.com", store.RoleSharedMailboxes, "admin"); err != nil {
		t.Fatal(err)
	}
	c, _ := e.dial("dave@example.com")
	if err := c.SetACL("Shared/info@example.com", "dave@example.com", imap.RightModificationReplace, imap.RightSet("lr")).Wait(); err != nil {
		t.Fatalf("admin SETACL: %v", err)
	}
	if got := memberRights(sharedShow(t, e.st, "info@example.com"), "dave@example.com"); got != "read" {
		t.Fatalf("dave: %q", got)
	}
	d, err := c.MyRights(infoInbox).Wait()
	if err != nil || !d.Rights.Equal(imap.RightSet("lrsa")) {
		t.Fatalf("admin member MYRIGHTS: %v %v", d, err)
	}

	lim := e.srv.opts.Limits
	lim.SharedMailboxMembers = 3 // bob, carol, dave
	e.srv.Close()
	e.start(Options{Limits: lim})
	if _, err := e.st.AddUser(t.Context(), "erin@example.com", "erin", ""); err != nil {
		t.Fatal(err)
	}
	owner, _ := e.dial("alice@example.com")
	err = owner.SetACL(infoInbox, "erin@example.com", imap.RightModificationReplace, imap.RightSet("lrs")).Wait()
	if err == nil || !strings.Contains(err.Error(), "shared_mailbox_members") {
		t.Fatalf("SETACL over the member limit: %v", err)
	}
}

// RFC 8440: LIST ... RETURN (MYRIGHTS) follows each listed name with its
// MYRIGHTS line.
func TestListReturnMyRights(t *testing.T) {
	e := newEnv(t)
	rc := rawLogin(t, e.addr, "bob@example.com")
	untagged, tagged := rc.Cmd(`LIST "" "*" RETURN (MYRIGHTS)`)
	if !strings.HasPrefix(tagged, " OK") {
		t.Fatalf("LIST RETURN (MYRIGHTS): %s", tagged)
	}
	for _, want := range []string{`* MYRIGHTS INBOX lrswiktecxa`, `* MYRIGHTS "` + infoInbox + `" lrs`} {
		if !containsLine(untagged, want) {
			t.Errorf("missing %q in %q", want, untagged)
		}
	}
	for i, l := range untagged {
		if strings.HasPrefix(l, "* MYRIGHTS") && (i == 0 || !strings.HasPrefix(untagged[i-1], "* LIST")) {
			t.Errorf("MYRIGHTS not right after its LIST line: %q", untagged)
		}
	}
	if untagged, _ := rc.Cmd(`LIST "" "*"`); strings.Contains(strings.Join(untagged, "\n"), "MYRIGHTS") {
		t.Errorf("plain LIST sent MYRIGHTS: %q", untagged)
	}
}
