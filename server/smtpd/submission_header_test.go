package smtpd

import (
	"errors"
	"testing"

	"github.com/emersion/go-smtp"

	"mailsrv/internal/testkit"
)

// TestSubmissionDuplicateFromRefused is issue 12 #1: authenticated as bob,
// a message whose header carries alice's address in a second From: or
// Sender: field (any spelling) must be refused, not DKIM-signed.
func TestSubmissionDuplicateFromRefused(t *testing.T) {
	e := newSubEnv(t)
	aliceBox := e.mailboxOf(t, "alice@example.com")
	const rest = "To: alice@example.com\r\nSubject: hi\r\n\r\nbody\r\n"
	cases := []struct {
		name, header string
		code         int
		text         string
	}{
		{"plain", "From: bob@example.com\r\n", 250, ""},
		{"upper", "FROM: bob@example.com\r\n", 250, ""},
		{"space before colon", "From : bob@example.com\r\n", 250, ""},
		{"folded value", "From:\r\n <bob@example.com>\r\n", 250, ""},
		{"folded continuation is not a field", "From: bob@example.com\r\nX-Note: a\r\n From: alice@example.com\r\n", 250, ""},
		{"two From", "From: bob@example.com\r\nFrom: alice@example.com\r\n", 550, "2 From: header fields"},
		{"lower from", "From: bob@example.com\r\nfrom: alice@example.com\r\n", 550, "2 From: header fields"},
		{"upper FROM", "From: bob@example.com\r\nFROM: alice@example.com\r\n", 550, "2 From: header fields"},
		{"From space colon", "From: bob@example.com\r\nFrom : alice@example.com\r\n", 550, "2 From: header fields"},
		{"From tab colon", "From: bob@example.com\r\nFrom\t: alice@example.com\r\n", 550, "2 From: header fields"},
		{"no space after colon", "From: bob@example.com\r\nFrom:alice@example.com\r\n", 550, "2 From: header fields"},
		{"second From folded", "From: bob@example.com\r\nFrom:\r\n\talice@example.com\r\n", 550, "2 From: header fields"},
		{"second From after others", "From: bob@example.com\r\nX-A: 1\r\nX-B: 2\r\nfRoM:alice@example.com\r\n", 550, "2 From: header fields"},
		{"bare LF line", "From: bob@example.com\nFrom: alice@example.com\n", 550, "2 From: header fields"},
		{"three From", "From: bob@example.com\r\nFrom: bob@example.com\r\nFrom: alice@example.com\r\n", 550, "3 From: header fields"},
		{"bare CR", "X-A: 1\rFrom: alice@example.com\r\nFrom: bob@example.com\r\n", 550, "CR that does not end a line"},
		{"leading blank first line", " From: alice@example.com\r\nFrom: bob@example.com\r\n", 550, "Malformed message header"},
		{"line without colon", "From: bob@example.com\r\nFrom alice@example.com\r\n", 550, "Malformed message header"},
		{"nbsp before colon", "From: bob@example.com\r\nFrom\u00a0: alice@example.com\r\n", 550, "Malformed message header"},
		{"two addresses", "From: bob@example.com, alice@example.com\r\n", 550, "belongs to another user"},
		{"two Sender", "From: bob@example.com\r\nSender: bob@example.com\r\nsender : alice@example.com\r\n", 550, "2 Sender: header fields"},
		{"Sender of another", "From: bob@example.com\r\nSender: alice@example.com\r\n", 550, "alice@example.com"},
		{"display name only", "From: \"alice@example.com\" <bob@example.com>\r\n", 250, ""},
	}
	c := e.login(t, "", "bob@example.com")
	delivered := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := testkit.SMTPSend(c, "bob@example.com", []string{"alice@example.com"}, tc.header+rest)
			if tc.code == 250 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				delivered++
			} else {
				subWantCode(t, err, tc.code, tc.text)
				var se *smtp.SMTPError
				if errors.As(err, &se) && se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) && se.EnhancedCode != (smtp.EnhancedCode{5, 6, 0}) {
					t.Errorf("enhanced code %v of %v", se.EnhancedCode, err)
				}
			}
			if n := len(e.folder(t, aliceBox, "INBOX")); n != delivered {
				t.Fatalf("alice has %d messages, want %d", n, delivered)
			}
		})
	}
}
