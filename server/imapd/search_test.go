package imapd

import (
	"encoding/base64"
	"fmt"
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// Header searches answered from the envelope skip records that cannot
// match without decoding them (store.MessagesWithWords). This checks the
// skipping never drops a match: case, text spanning name and address,
// non-ASCII text, a Kelvin sign that lowercases to "k", OR and NOT.
func TestEnvelopeSearchMatchesAreNeverDropped(t *testing.T) {
	e := newEnv(t)
	mb := e.mailbox("alice@example.com")
	msg := func(from, subject string) string {
		return fmt.Sprintf("From: %s\r\nTo: alice@example.com\r\nSubject: %s\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\n\r\nbody\r\n", from, subject)
	}
	e.deliver(mb, "INBOX", msg("Jane Doe <JANE.doe@Remote.Example>", "Quarterly Report"))                // 1
	e.deliver(mb, "INBOX", msg("=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@remote.example>", "Über alles")) // 2
	e.deliver(mb, "INBOX", msg("\u212aelvin <lord@remote.example>", "=?utf-8?q?Gr=C3=BC=C3=9Fe?="))      // 3
	e.deliver(mb, "INBOX", msg("Other <other@elsewhere.example>", "report draft"))                       // 4
	c, _ := e.dial("alice@example.com")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	hdr := func(k, v string) imap.SearchCriteria {
		return imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: k, Value: v}}}
	}
	for _, tc := range []struct {
		name string
		c    imap.SearchCriteria
		want []imap.UID
	}{
		{"case", hdr("From", "jane.DOE@remote.example"), []imap.UID{1}},
		{"name and address", hdr("From", "Doe <jane"), []imap.UID{1}},
		{"non-ASCII name", hdr("From", "Müller"), []imap.UID{2}},
		{"non-ASCII subject", hdr("Subject", "grüße"), []imap.UID{3}},
		{"Kelvin sign lowercases to k", hdr("From", "KELVIN <lord"), []imap.UID{3}},
		{"subject in two messages", hdr("Subject", "REPORT"), []imap.UID{1, 4}},
		{"no match", hdr("From", "nobody"), nil},
		{"NOT", imap.SearchCriteria{Not: []imap.SearchCriteria{hdr("From", "remote")}}, []imap.UID{4}},
		{"OR", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{hdr("From", "jm@"), hdr("Subject", "draft")}}}, []imap.UID{2, 4}},
		{"two criteria", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "jane"}, {Key: "Subject", Value: "quarterly"}}}, []imap.UID{1}},
	} {
		d, err := c.UIDSearch(&tc.c, nil).Wait()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := d.AllUIDs(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: UIDs %v, want %v", tc.name, got, tc.want)
		}
	}
}

// BODY and TEXT match the text a reader sees: base64 and quoted-printable
// parts are decoded and converted from their charset, encoded header words
// are decoded, attachments are not searched.
func TestBodySearchDecodesParts(t *testing.T) {
	e := newEnv(t)
	mb := e.mailbox("alice@example.com")
	// 1: base64 UTF-8 plain text.
	e.deliver(mb, "INBOX", "From: a@remote.example\r\nSubject: one\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"+
		"R3LDvMOfZSBhdXMgTcO8bmNoZW4K\r\n") // "Grüße aus München\n"
	// 2: quoted-printable ISO-8859-1 inside multipart/alternative, with a
	// base64 attachment whose decoded text says "secretword".
	e.deliver(mb, "INBOX", "From: b@remote.example\r\nSubject: =?iso-8859-1?q?r=E9sum=E9?=\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"+
		"--XX\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"+
		"Caf=E9 cr=E8me, soft line=\r\n break\r\n"+
		"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"+
		"c2VjcmV0d29yZA==\r\n"+
		"--XX--\r\n")
	// 3: plain 7-bit, the control.
	e.deliver(mb, "INBOX", "From: c@remote.example\r\nSubject: three\r\n\r\nplain body about munchen\r\n")
	// 4: base64 HTML: its text counts, its markup and script do not.
	e.deliver(mb, "INBOX", "From: d@remote.example\r\nSubject: four\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"+
		base64.StdEncoding.EncodeToString([]byte(`<html><head><style>.x{color:red}</style><script>var hiddenvar=1</script></head>`+
			`<body><div class="x">Invoice&nbsp;n&deg;42 <b>due</b>today</div></body></html>`))+"\r\n")
	c, _ := e.dial("alice@example.com")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    imap.SearchCriteria
		want []imap.UID
	}{
		{"base64 UTF-8", imap.SearchCriteria{Body: []string{"MÜNCHEN"}}, []imap.UID{1}},
		{"quoted-printable Latin-1", imap.SearchCriteria{Body: []string{"café crème"}}, []imap.UID{2}},
		{"soft line break joined", imap.SearchCriteria{Body: []string{"line break"}}, []imap.UID{2}},
		{"attachment not searched", imap.SearchCriteria{Body: []string{"secretword"}}, nil},
		{"plain ASCII", imap.SearchCriteria{Body: []string{"munchen"}}, []imap.UID{3}},
		{"TEXT finds decoded header word", imap.SearchCriteria{Text: []string{"résumé"}}, []imap.UID{2}},
		{"TEXT finds body", imap.SearchCriteria{Text: []string{"grüße"}}, []imap.UID{1}},
		{"BODY does not search the header", imap.SearchCriteria{Body: []string{"résumé"}}, nil},
		{"HTML text with entities", imap.SearchCriteria{Body: []string{"invoice\u00a0n°42"}}, []imap.UID{4}},
		{"HTML tags separate words", imap.SearchCriteria{Body: []string{"due today"}}, []imap.UID{4}},
		{"HTML markup not searched", imap.SearchCriteria{Body: []string{"div"}}, nil},
		{"HTML script not searched", imap.SearchCriteria{Body: []string{"hiddenvar"}}, nil},
	} {
		d, err := c.UIDSearch(&tc.c, &imap.SearchOptions{}).Wait()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := d.AllUIDs(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: UIDs %v, want %v", tc.name, got, tc.want)
		}
	}
}
