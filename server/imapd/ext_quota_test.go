package imapd

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"mailsrv/store"
)

// RFC 9208 over the wire: GETQUOTAROOT/GETQUOTA with go-imap's client,
// STATUS (SIZE) agreeing with the usage, APPEND and COPY over quota
// refused with NO [OVERQUOTA] and nothing stored, SETQUOTA refused.
func TestQuotaOverIMAP(t *testing.T) {
	e := newEnv(t)
	bob := e.mailbox("bob@example.com")
	e.deliver(bob, "INBOX", testMessage(1))
	if err := e.st.SetQuota(t.Context(), bob, store.QuotaLimit{Bytes: 4096, Messages: 3}, "admin"); err != nil {
		t.Fatal(err)
	}
	c, _ := e.dial("bob@example.com")
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []imap.Cap{imap.CapQuota, "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE"} {
		if !caps.Has(want) {
			t.Errorf("CAPABILITY lacks %s", want)
		}
	}
	roots, err := c.GetQuotaRoot("INBOX").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(roots) != 1 || roots[0].Root != "bob@example.com" {
		t.Fatalf("GETQUOTAROOT INBOX: %+v", roots)
	}
	size := int64(len(testMessage(1)))
	st := roots[0].Resources[imap.QuotaResourceStorage]
	if st.Usage != (size+1023)/1024 || st.Limit != 4 {
		t.Fatalf("STORAGE %+v, want usage %d KiB of 4", st, (size+1023)/1024)
	}
	if m := roots[0].Resources[imap.QuotaResourceMessage]; m.Usage != 1 || m.Limit != 3 {
		t.Fatalf("MESSAGE %+v, want 1 of 3", m)
	}
	sd, err := c.Status("INBOX", &imap.StatusOptions{Size: true}).Wait()
	if err != nil || sd.Size == nil || *sd.Size != size {
		t.Fatalf("STATUS (SIZE) = %v %v, want %d", sd, err, size)
	}

	// An APPEND that would pass 4096 bytes: NO [OVERQUOTA], nothing kept.
	big := testMessage(2) + strings.Repeat("x", 4096) + "\r\n"
	ac := c.Append("INBOX", int64(len(big)), nil)
	ac.Write([]byte(big))
	ac.Close()
	_, err = ac.Wait()
	wantCode(t, "APPEND over quota", err, imap.ResponseCodeOverQuota)
	if q, _ := e.st.QuotaOf(t.Context(), bob); q.Messages != 1 || q.Bytes != size {
		t.Fatalf("after the refused APPEND: %+v", q)
	}
	// Small ones fit until the message limit (3).
	for i := 3; i <= 4; i++ {
		m := testMessage(i)
		ac := c.Append("INBOX", int64(len(m)), nil)
		ac.Write([]byte(m))
		ac.Close()
		if _, err := ac.Wait(); err != nil {
			t.Fatalf("APPEND %d: %v", i, err)
		}
	}
	m := testMessage(5)
	ac = c.Append("Archive", int64(len(m)), nil)
	ac.Write([]byte(m))
	ac.Close()
	_, err = ac.Wait()
	wantCode(t, "APPEND over the message limit", err, imap.ResponseCodeOverQuota)

	// COPY from a shared folder into the full mailbox: refused whole.
	e.deliver(e.info.ID, "INBOX", testMessage(6))
	if _, err := c.Select(infoInbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	_, err = c.Copy(imap.SeqSetNum(1), "INBOX").Wait()
	wantCode(t, "COPY into a full mailbox", err, imap.ResponseCodeOverQuota)
	if q, _ := e.st.QuotaOf(t.Context(), bob); q.Messages != 3 {
		t.Fatalf("after the refused COPY bob has %d messages", q.Messages)
	}

	// The shared mailbox is its own root and has no limit: no root.
	roots, err = c.GetQuotaRoot(infoInbox).Wait()
	if err != nil || len(roots) != 0 {
		t.Fatalf("GETQUOTAROOT of an unlimited shared folder: %+v %v", roots, err)
	}
	if err := e.st.SetQuota(t.Context(), e.info.ID, store.QuotaLimit{Bytes: 1 << 20}, "admin"); err != nil {
		t.Fatal(err)
	}
	roots, err = c.GetQuotaRoot(infoInbox).Wait()
	if err != nil || len(roots) != 1 || roots[0].Root != "info@example.com" {
		t.Fatalf("GETQUOTAROOT of the shared folder: %+v %v", roots, err)
	}
	if u := roots[0].Resources[imap.QuotaResourceStorage].Usage; u != 1 {
		t.Fatalf("info@ STORAGE usage %d KiB, want 1 (its own message only)", u)
	}

	rc := rawLogin(t, e.addr, "bob@example.com")
	if _, tagged := rc.Cmd(`SETQUOTA "bob@example.com" (STORAGE 999999)`); !strings.Contains(tagged, "NO [NOPERM]") {
		t.Fatalf("SETQUOTA: %s", tagged)
	}
	if _, tagged := rc.Cmd(`GETQUOTA "carol@example.com"`); !strings.Contains(tagged, "NO [NONEXISTENT]") {
		t.Fatalf("GETQUOTA of someone else's root: %s", tagged)
	}
	untagged, tagged := rc.Cmd(`GETQUOTA "bob@example.com"`)
	if !strings.HasPrefix(tagged, " OK") || !containsLine(untagged, `* QUOTA "bob@example.com" (STORAGE `) {
		t.Fatalf("GETQUOTA: %q %q", untagged, tagged)
	}
}

// The configured default applies to every mailbox without its own limit.
func TestQuotaDefault(t *testing.T) {
	e := newEnv(t)
	e.st.SetDefaultQuota(100)
	c, _ := e.dial("dave@example.com")
	m := testMessage(1) + strings.Repeat("y", 100)
	ac := c.Append("INBOX", int64(len(m)), nil)
	ac.Write([]byte(m))
	ac.Close()
	_, err := ac.Wait()
	wantCode(t, "APPEND over the default quota", err, imap.ResponseCodeOverQuota)
}
