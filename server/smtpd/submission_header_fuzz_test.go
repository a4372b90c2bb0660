package smtpd

import (
	"bufio"
	"bytes"
	"net/textproto"
	"strings"
	"testing"

	gomail "github.com/emersion/go-message/mail"

	"mailsrv/server/submit"
	"mailsrv/store"
)

// FuzzSubmissionHeaderCheck (issue 12 #1): for any header block the sender
// check accepts from bob, no reader downstream may see a From: or Sender:
// other than bob: not the DKIM signer's field splitting (which decides
// what h=From covers), not go-message (what clients display), and never
// more than one From: or Sender: field.
func FuzzSubmissionHeaderCheck(f *testing.F) {
	for _, seed := range []string{
		"From: bob@example.com\r\n\r\n",
		"From: bob@example.com\r\nfrom: alice@example.com\r\n\r\n",
		"From: bob@example.com\r\nFrom : alice@example.com\r\n\r\n",
		"From: bob@example.com\r\nSender: alice@example.com\r\n\r\n",
		"From: bob@example.com\r\nX: y\r\n From: alice@example.com\r\n\r\n",
		" From: alice@example.com\r\nFrom: bob@example.com\r\n\r\n",
		"From: bob@example.com\nFrom: alice@example.com\n\n",
		"X: 1\rFrom: alice@example.com\r\nFrom: bob@example.com\r\n\r\n",
		"From: \"alice@example.com\" <bob@example.com>\r\n\r\n",
		"From: g: bob@example.com, alice@example.com;\r\n\r\n",
		"From: =?utf-8?q?alice?= <bob@example.com>\r\nSender: bob@example.com\r\n\r\n",
		"From: bob@example.com (alice@example.com)\r\n\r\n",
		"From: bob@EXAMPLE.com.\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	e := newSubEnv(f)
	sess := &subSession{ctx: f.Context(), st: e.st, ci: &connInfo{ID: "fuzz", Log: subQuietLog()}, b: &subBackend{name: SubmissionListener, sub: submit.New(submit.Options{Store: e.st})}}
	bobBox := e.mailboxOf(f, "bob@example.com")
	id := &identity{User: "bob@example.com", MailboxID: bobBox}
	f.Fuzz(func(t *testing.T, data []byte) {
		hdr, err := readHeader(bytes.NewReader(data))
		if err != nil {
			return
		}
		if _, err := sess.checkHeader(id, hdr); err != nil {
			return
		}
		// The DKIM signer's view (go-msgauth dkim readHeader + parseHeaderField).
		counts := map[string]int{}
		tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(hdr)))
		var fields []string
		for {
			l, err := tr.ReadLine()
			if err != nil || l == "" {
				break
			}
			if len(fields) > 0 && (l[0] == ' ' || l[0] == '\t') {
				fields[len(fields)-1] += l
				continue
			}
			fields = append(fields, l)
		}
		for _, fl := range fields {
			k, _, _ := strings.Cut(fl, ":")
			counts[strings.ToLower(strings.TrimSpace(k))]++
		}
		if counts["from"] != 1 || counts["sender"] > 1 {
			t.Fatalf("accepted with %d From and %d Sender fields as DKIM sees them: %q", counts["from"], counts["sender"], hdr)
		}
		// A client's view (go-message): every address is bob's.
		r, err := gomail.CreateReader(bytes.NewReader(append(hdr, "\r\n"...)))
		if err != nil {
			t.Fatalf("accepted a header go-message cannot read: %v: %q", err, hdr)
		}
		for _, key := range []string{"From", "Sender"} {
			if n := len(r.Header.Values(key)); n > 1 {
				t.Fatalf("accepted %d %s fields: %q", n, key, hdr)
			}
			addrs, err := r.Header.AddressList(key)
			if err != nil {
				continue // a display-name charset go-message lacks; the address check above parsed it
			}
			for _, a := range addrs {
				if n, err := store.NormalizeAddress(a.Address); err != nil || n != "bob@example.com" {
					t.Fatalf("accepted %s: %q (%q) from bob: %q", key, a.Address, n, hdr)
				}
			}
		}
	})
}
