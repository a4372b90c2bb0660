package smtpd

// Answers both roles give where go-smtp leaves the decision to the session
// (issue 12 #9): a nested MAIL, a sender with a NUL, malformed SASL
// responses, and the tarpit for unknown recipients. What go-smtp answers
// itself before a session method runs (502 instead of 503 for commands out
// of sequence, STARTTLS with an argument, undecodable base64 in AUTH) it
// does not let a session change; see the report of issue 12.

import (
	"errors"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

var (
	errNestedMail = smtpError(503, smtp.EnhancedCode{5, 5, 1}, "Nested MAIL command: finish or RSET the current transaction first")
	errNULSender  = smtpError(501, smtp.EnhancedCode{5, 1, 7}, "The sender address contains a NUL character")
	errAUTHSyntax = smtpError(501, smtp.EnhancedCode{5, 5, 2}, "Malformed AUTH response")
	errTarpitEnd  = smtpError(421, smtp.EnhancedCode{4, 7, 0}, "Too many unknown recipients, closing the connection")
)

// checkSender refuses what go-smtp lets through in MAIL FROM: a NUL
// (it must not become a space or vanish).
func checkSender(from string) error {
	if strings.ContainsRune(from, 0) {
		return errNULSender
	}
	return nil
}

// saslSyntax turns a mechanism's own parse errors (go-sasl's "invalid
// response" for a PLAIN message without its two NULs, for example) into
// 501; go-smtp would answer them 454 as if the server had failed. Errors
// that are already SMTP answers (535, 454, 421 from the login decision)
// pass unchanged.
type saslSyntax struct{ sasl.Server }

func (s saslSyntax) Next(response []byte) ([]byte, bool, error) {
	ch, done, err := s.Server.Next(response)
	var se *smtp.SMTPError
	if err != nil && !errors.As(err, &se) {
		return ch, done, errAUTHSyntax
	}
	return ch, done, err
}

// Tarpit for unknown recipients (a directory harvest or a spam run over
// guessed names): the first tarpitFree of a session are answered at once,
// each further one after base × (n − tarpitFree), at most tarpitMaxDelay,
// and after tarpitMaxUnknown the session ends with 421.
const (
	DefaultUnknownRcptDelay = 500 * time.Millisecond
	tarpitFree              = 3
	tarpitMaxDelay          = 5 * time.Second
	tarpitMaxUnknown        = 20
)

// unknownRcpt counts one more unknown recipient of a session (n is the new
// count), sleeps the tarpit delay, and says whether to end the session.
func (s *Server) unknownRcpt(c *smtp.Conn, n int) error {
	if n > tarpitFree {
		time.Sleep(min(s.tarpitBase*time.Duration(n-tarpitFree), tarpitMaxDelay))
	}
	if n >= tarpitMaxUnknown {
		if tc := trackedOf(c); tc != nil {
			tc.closeAfterNextWrite()
		}
		return errTarpitEnd
	}
	return nil
}
