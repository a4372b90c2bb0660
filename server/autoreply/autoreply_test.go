package autoreply

import (
	"testing"

	"mailsrv/auth/msgauth"
	"mailsrv/store"
)

// The RFC 3834 refusals one by one (the MX end to end is in
// server/autoreply_test.go).
func TestRefuse(t *testing.T) {
	pass := &msgauth.Result{SPF: msgauth.SPFResult{Result: "pass"}}
	dkimOnly := &msgauth.Result{SPF: msgauth.SPFResult{Result: "fail"}, DKIM: []msgauth.DKIMResult{{Result: "fail"}, {Result: "pass"}}}
	neither := &msgauth.Result{SPF: msgauth.SPFResult{Result: "softfail"}, DKIM: []msgauth.DKIMResult{{Result: "fail"}}}
	for _, tc := range []struct {
		from, header string
		auth         *msgauth.Result
		refused      bool
	}{
		{"c@remote.example", "Subject: hi\r\n", pass, false},
		{"c@remote.example", "Subject: hi\r\n", nil, false}, // not verified at all
		{"c@remote.example", "Subject: hi\r\n", dkimOnly, false},
		{"c@remote.example", "Subject: hi\r\n", neither, true},
		{"", "Subject: hi\r\n", pass, true},
		{"c@remote.example", "Auto-Submitted: no\r\n", pass, false},
		{"c@remote.example", "Auto-Submitted: No (comment)\r\n", pass, false},
		{"c@remote.example", "Auto-Submitted: auto-replied\r\n", pass, true},
		{"c@remote.example", "auto-submitted: auto-notified; owner-email=x@y\r\n", pass, true},
		{"c@remote.example", "Precedence: List\r\n", pass, true},
		{"c@remote.example", "Precedence: junk\r\n", pass, true},
		{"c@remote.example", "Precedence: first-class\r\n", pass, false},
		{"c@remote.example", "List-Unsubscribe: <mailto:u@x>\r\n", pass, true},
		{"c@remote.example", "list-id: <a.b>\r\n", pass, true},
		{"No-Reply@remote.example", "Subject: x\r\n", pass, true},
		{"noreply-billing@remote.example", "Subject: x\r\n", pass, true},
		{"MAILER-DAEMON@remote.example", "Subject: x\r\n", pass, true},
		{"postmaster@remote.example", "Subject: x\r\n", pass, true},
		{"news-request@remote.example", "Subject: x\r\n", pass, true},
		{"owner-news@remote.example", "Subject: x\r\n", pass, true},
	} {
		h, err := parseHeader([]byte(tc.header + "\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		why := Refuse(tc.from, h, tc.auth)
		if (why != "") != tc.refused {
			t.Errorf("from %q header %q: refusal %q, want refused=%v", tc.from, tc.header, why, tc.refused)
		}
	}
}

// *store.Store is the responder's Store.
var _ Store = (*store.Store)(nil)
