package testkit

import (
	"io"

	"github.com/emersion/go-smtp"
)

// SMTPSend runs one mail transaction on an open go-smtp client: MAIL FROM,
// one RCPT TO per recipient, DATA with msg (the full message text). It
// returns the error of the first failing step (an *smtp.SMTPError for a
// server's answer); after a refused RCPT it resets the transaction, so
// the client can be used for the next one.
func SMTPSend(c *smtp.Client, from string, to []string, msg string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, rc := range to {
		if err := c.Rcpt(rc, nil); err != nil {
			c.Reset()
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	return w.Close()
}
