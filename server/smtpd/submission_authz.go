package smtpd

// Sender authorisation and the header check are the shared sending
// pipeline's (server/submit, also behind the webmail's compose); this
// file maps its answers to SMTP replies.

import (
	"errors"

	"github.com/emersion/go-smtp"

	"mailsrv/server/submit"
)

func (id *identity) submitter() submit.Identity {
	return submit.Identity{User: id.User, MailboxID: id.MailboxID}
}

// authorize says whether id may send as addr (normalised).
func (s *subSession) authorize(id *identity, addr string) (*submit.Grant, error) {
	g, err := s.b.sub.Authorize(s.ctx, id.submitter(), addr)
	return g, smtpErr(err)
}

// checkHeader authorises the From: and Sender: fields of hdr (the raw
// header block) for id (submit.Submitter.CheckHeader).
func (s *subSession) checkHeader(id *identity, hdr []byte) (*submit.HeaderCheck, error) {
	hc, err := s.b.sub.CheckHeader(s.ctx, id.submitter(), hdr)
	return hc, smtpErr(err)
}

// smtpErr turns a submit.Error into the SMTP reply it describes.
func smtpErr(err error) error {
	var se *submit.Error
	if errors.As(err, &se) {
		return smtpError(se.Code, smtp.EnhancedCode(se.Enhanced), se.Message)
	}
	return err
}
