// mailsrv patch: whole file. What the server does with a bad command.
package imapserver

import (
	"bufio"
	"errors"
	"fmt"
	"net"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

const (
	// maxSkipLine bounds how much of a bad command's lines is read to
	// find its end; maxSkipLiteral bounds one literal of it (the largest
	// APPEND is defaultAppendLimit). Beyond them the connection closes.
	maxSkipLine    = 1 << 20
	maxSkipLiteral = defaultAppendLimit
)

var errCommandTooLong = &imap.StatusResponse{
	Type: imap.StatusResponseTypeBad,
	Code: imap.ResponseCodeTooBig,
	Text: fmt.Sprintf("Command line too long (at most %d KiB outside literals)", maxCommandSize/1024),
}

// skipCommand consumes what is left of the current command (see
// imapwire.Decoder.SkipCommand). An error means the connection must end:
// it has already said BYE when it could.
func (c *Conn) skipCommand(dec *imapwire.Decoder) error {
	c.setReadTimeout(literalReadTimeout)
	defer c.setReadTimeout(cmdReadTimeout)
	err := dec.SkipCommand(maxSkipLine, maxSkipLiteral)
	if errors.Is(err, imapwire.ErrSkipLimit) {
		c.state = imap.ConnStateLogout
		if werr := c.writeStatusResp("", &imap.StatusResponse{
			Type: imap.StatusResponseTypeBye,
			Text: "Command too large, closing the connection",
		}); werr != nil {
			return werr
		}
		return net.ErrClosed
	}
	return err
}

// badCommand answers a line that has no tag or no command name: BAD,
// tagged when there is a tag. A failed read ends the connection.
func (c *Conn) badCommand(dec *imapwire.Decoder, tag string) error {
	if err := dec.IOErr(); err != nil {
		return fmt.Errorf("in command: %w", err)
	}
	if err := c.skipCommand(dec); err != nil {
		return err
	}
	text := "Syntax error: expected a tag and a command name"
	if dec.TooLong() {
		text = errCommandTooLong.Text
	}
	return c.writeStatusResp(tag, &imap.StatusResponse{
		Type: imap.StatusResponseTypeBad,
		Code: imap.ResponseCodeClientBug,
		Text: text,
	})
}

// discardLine reads and drops the rest of a line that bufio.Reader.ReadLine
// returned in part, up to maxSkipLine bytes.
func discardLine(br *bufio.Reader) error {
	var n int
	for {
		line, isPrefix, err := br.ReadLine()
		if err != nil {
			return err
		}
		if n += len(line); n > maxSkipLine {
			return errors.New("imapserver: line too long")
		}
		if !isPrefix {
			return nil
		}
	}
}

func isIMAPError(err error) bool {
	var imapErr *imap.Error
	return errors.As(err, &imapErr)
}

// EndSelection ends the selected state on the server's initiative (the
// backend found the user may no longer read the mailbox) and tells the
// client with an untagged NO carrying code and text. Commands that need
// a selected mailbox are then refused as in the authenticated state.
func (c *Conn) EndSelection(code imap.ResponseCode, text string) error {
	if c.state == imap.ConnStateSelected {
		c.state = imap.ConnStateAuthenticated
	}
	return c.writeStatusResp("", &imap.StatusResponse{
		Type: imap.StatusResponseTypeNo,
		Code: code,
		Text: text,
	})
}
