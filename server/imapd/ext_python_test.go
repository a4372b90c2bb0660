package imapd

import (
	"strings"
	"testing"

	"mailsrv/internal/testkit"
	"mailsrv/store"
)

// python's imaplib (an independent client) drives ID, MYRIGHTS, GETACL,
// SETACL, DELETEACL and GETQUOTAROOT against the server
// (testdata/imaplib_acl_quota.py).
func TestPythonImaplibACLQuota(t *testing.T) {
	e := newEnv(t)
	if err := e.st.SetQuota(t.Context(), e.mailbox("alice@example.com"), store.QuotaLimit{Bytes: 1 << 20}, "admin"); err != nil {
		t.Fatal(err)
	}
	out, err := testkit.Python(t, "imaplib_acl_quota.py", e.addr)
	if err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("python imaplib: %v\n%s", err, out)
	}
	if r, _ := e.st.RightsOf(t.Context(), e.info.ID, "dave@example.com"); r != 0 {
		t.Fatalf("dave still has %v after DELETEACL", r)
	}
}
