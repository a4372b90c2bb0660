package imapd

import (
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailsrv/auth/acl"
)

func appendMsg(c *imapclient.Client, folder, body string) error {
	ap := c.Append(folder, int64(len(body)), nil)
	ap.Write([]byte(body))
	ap.Close()
	_, err := ap.Wait()
	return err
}

// checkRights runs every write command against the shared mailbox seen
// under prefix ("Shared/info@example.com/" or "" for a delegate login) and
// checks it succeeds exactly when manage is held. other is a folder outside
// the shared mailbox for COPY/MOVE ("" = use prefix+"Archive").
func checkRights(t *testing.T, c *imapclient.Client, prefix string, manage bool) {
	t.Helper()
	check := func(what string, err error) {
		t.Helper()
		if manage {
			if err != nil {
				t.Fatalf("%s with manage: %v", what, err)
			}
			return
		}
		wantCode(t, what, err, imap.ResponseCodeNoPerm)
	}
	sel, err := c.Select(prefix+"INBOX", nil).Wait()
	if err != nil {
		t.Fatalf("SELECT %sINBOX: %v", prefix, err)
	}
	// PERMANENTFLAGS says what STORE accepts (RFC 4314 §4): all flags
	// and new keywords with manage, only \Seen with read (SPEC §5).
	wantPerm := []imap.Flag{imap.FlagSeen}
	if manage {
		wantPerm = []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft, imap.FlagWildcard}
	}
	if !slices.Equal(sel.PermanentFlags, wantPerm) {
		t.Fatalf("PERMANENTFLAGS %v with manage=%v", sel.PermanentFlags, manage)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true, BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].Envelope == nil {
		t.Fatalf("FETCH with read: %v %v", msgs, err)
	}
	// Read includes \Seen (SPEC §5).
	if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: []imap.Flag{imap.FlagSeen}}, nil).Collect(); err != nil {
		t.Fatalf("STORE -\\Seen with read: %v", err)
	}
	_, err = c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Collect()
	check("STORE +\\Flagged", err)
	_, err = c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect()
	check("STORE +\\Deleted", err)
	_, err = c.Expunge().Collect()
	check("EXPUNGE", err)
	_, err = c.Move(imap.SeqSetNum(1), prefix+"Archive").Wait()
	check("MOVE", err)
	_, err = c.Copy(imap.SeqSetNum(1), prefix+"Archive").Wait()
	check("COPY into", err)
	check("APPEND", appendMsg(c, prefix+"INBOX", testMessage(50)))
	check("CREATE", c.Create(prefix+"Team", nil).Wait())
	check("RENAME", c.Rename(prefix+"Junk", prefix+"Spam", nil).Wait())
	check("DELETE", c.Delete(prefix+"Trash").Wait())
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestRightsMatrixNamespaceAccess(t *testing.T) {
	for _, tc := range []struct {
		user   string
		manage bool
	}{{"bob@example.com", false}, {"carol@example.com", true}} {
		t.Run(tc.user, func(t *testing.T) {
			e := newEnv(t)
			for i := 1; i <= 3; i++ {
				e.deliver(e.info.ID, "INBOX", testMessage(i))
			}
			c, _ := e.dial(tc.user)
			if listNames(t, c)["Shared/info@example.com/INBOX"] == nil {
				t.Fatal("shared INBOX not listed")
			}
			checkRights(t, c, "Shared/info@example.com/", tc.manage)
			// COPY from the shared mailbox into one's own is reading.
			if _, err := c.Select("Shared/info@example.com/INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Copy(imap.SeqSetNum(1), "INBOX").Wait(); err != nil {
				t.Fatalf("COPY out with read: %v", err)
			}
			log, _ := e.st.AuditLog(t.Context(), e.info.ID, time.Time{})
			var mine []string
			appendAudited := false
			for _, a := range log {
				if a.Actor == tc.user {
					mine = append(mine, a.Action)
					appendAudited = appendAudited || a.Action == "append" && a.MessageID == "<m50@remote.example>" && a.UID != 0
				}
			}
			if tc.manage && !appendAudited {
				t.Fatalf("APPEND not audited with its UID and Message-ID: %+v", log)
			}
			if tc.manage && len(mine) < 5 {
				t.Fatalf("delegate actions not audited: %v", mine)
			}
		})
	}
}

func TestRightsMatrixDelegateLogin(t *testing.T) {
	for _, tc := range []struct {
		user   string
		manage bool
	}{{"bob@example.com", false}, {"carol@example.com", true}} {
		t.Run(tc.user, func(t *testing.T) {
			e := newEnv(t)
			for i := 1; i <= 3; i++ {
				e.deliver(e.info.ID, "INBOX", testMessage(i))
			}
			c, _ := e.dial(tc.user + `\info@example.com`)
			names := listNames(t, c)
			if names["INBOX"] == nil || names["Sent"] == nil || names["Shared"] != nil {
				t.Fatalf("delegate root names %v", names)
			}
			checkRights(t, c, "", tc.manage)
		})
	}
}

func TestNoRightsIsInvisible(t *testing.T) {
	e := newEnv(t)
	e.deliver(e.info.ID, "INBOX", testMessage(1))
	c, _ := e.dial("dave@example.com")
	for name := range listNames(t, c) {
		if name == "Shared" || len(name) > 7 && name[:7] == "Shared/" {
			t.Fatalf("dave sees %s", name)
		}
	}
	_, err := c.Select("Shared/info@example.com/INBOX", nil).Wait()
	wantCode(t, "SELECT without read", err, imap.ResponseCodeNonExistent)
	_, err = c.Status("Shared/info@example.com/INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	wantCode(t, "STATUS without read", err, imap.ResponseCodeNonExistent)
	c2, _ := e.dial("")
	if err := c2.Login(`dave@example.com\info@example.com`, testPassword).Wait(); err == nil {
		t.Fatal("delegate login without rights accepted")
	}
}

// A revoke applies at the next command of a session that has the folder
// selected: first manage, then read.
func TestRevokeWhileSelected(t *testing.T) {
	for _, delegate := range []bool{false, true} {
		e := newEnv(t)
		e.deliver(e.info.ID, "INBOX", testMessage(1))
		login, folder := "carol@example.com", "Shared/info@example.com/INBOX"
		if delegate {
			login, folder = `carol@example.com\info@example.com`, "INBOX"
		}
		c, _ := e.dial(login)
		if _, err := c.Select(folder, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		flag := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}
		if _, err := c.Store(imap.SeqSetNum(1), flag, nil).Collect(); err != nil {
			t.Fatal(err)
		}
		if err := e.st.Grant(t.Context(), e.info.ID, "carol@example.com", acl.Read, 0, "admin"); err != nil {
			t.Fatal(err)
		}
		_, err := c.Store(imap.SeqSetNum(1), flag, nil).Collect()
		wantCode(t, "STORE after manage revoked", err, imap.ResponseCodeNoPerm)
		if err := e.st.Revoke(t.Context(), e.info.ID, "carol@example.com", "admin"); err != nil {
			t.Fatal(err)
		}
		_, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect()
		wantCode(t, "FETCH after read revoked", err, imap.ResponseCodeNoPerm)
		_, err = c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
		wantCode(t, "SEARCH after read revoked", err, imap.ResponseCodeNoPerm)
	}
}

// EXAMINE is read-only even for the owner.
func TestExamineIsReadOnly(t *testing.T) {
	e := newEnv(t)
	e.deliver(e.mailbox("alice@example.com"), "INBOX", testMessage(1))
	c, _ := e.dial("alice@example.com")
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil || len(sel.PermanentFlags) != 0 {
		t.Fatalf("EXAMINE %+v %v", sel, err)
	}
	_, err = c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect()
	wantCode(t, "STORE in EXAMINE", err, imap.ResponseCodeNoPerm)
	_, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	f, _ := e.st.FlagsOf(t.Context(), sel2fid(t, e, e.mailbox("alice@example.com"), "INBOX"), []uint32{1})
	if hasFlag(f[0].Flags, `\Seen`) {
		t.Fatal("BODY[] in EXAMINE set \\Seen")
	}
	if err := c.UnselectAndExpunge().Wait(); err != nil {
		t.Fatalf("CLOSE in EXAMINE: %v", err)
	}
}
