// mailsrv patch: whole file
//
// MULTIAPPEND (RFC 3502): several messages in one APPEND, stored all or
// none, for sessions implementing SessionMultiAppend. Such a session gets
// every APPEND, single or not, through here; upstream's handleAppend
// serves the others.

package imapserver

import (
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// SessionMultiAppend is a session that stores the messages of one APPEND
// together.
type SessionMultiAppend interface {
	// BeginAppend starts an APPEND to mailbox; it is called before the
	// first literal is accepted, so a missing mailbox is refused before
	// the client sends any data.
	BeginAppend(mailbox string) (AppendTx, error)
	// MultiAppendLimit bounds the total size of the literals of one
	// APPEND.
	MultiAppendLimit() int64
}

// AppendTx collects the messages of one APPEND; nothing is visible until
// Commit returns, and after an error of Add or Commit nothing is kept.
type AppendTx interface {
	// Add reads one message (the literal must be read to its end or the
	// command fails).
	Add(r imap.LiteralReader, options *imap.AppendOptions) error
	// Commit stores every added message in one transaction.
	Commit() (*MultiAppendData, error)
	// Abort drops whatever was added; it may follow Commit (no-op then).
	Abort()
}

// MultiAppendData is the APPENDUID of a (MULTI)APPEND (RFC 4315: a UID
// set when there are several messages).
type MultiAppendData struct {
	UIDValidity uint32
	UIDs        []imap.UID
}

func (c *Conn) multiAppendCaps() []imap.Cap {
	if _, ok := c.session.(SessionMultiAppend); ok {
		return []imap.Cap{imap.CapMultiAppend}
	}
	return nil
}

// maxMultiAppendMessages bounds the number of messages in one APPEND.
const maxMultiAppendMessages = 1000

func (c *Conn) handleMultiAppend(tag string, dec *imapwire.Decoder, session SessionMultiAppend) error {
	var mailbox string
	if !dec.ExpectSP() || !dec.ExpectMailbox(&mailbox) || !dec.ExpectSP() {
		return dec.Err()
	}
	appendLimit := int64(defaultAppendLimit)
	if appendLimitSession, ok := c.session.(SessionAppendLimit); ok {
		appendLimit = int64(appendLimitSession.AppendLimit())
	}
	var (
		tx    AppendTx
		total int64
	)
	defer func() {
		if tx != nil {
			tx.Abort()
		}
	}()
	for n := 1; ; n++ {
		var options imap.AppendOptions
		lit, nonSync, dataExt, err := readAppendMessage(dec, &options)
		if err != nil {
			return err
		}
		total += lit.Size()
		switch {
		case lit.Size() > appendLimit:
			return &imap.Error{
				Type: imap.StatusResponseTypeNo,
				Code: imap.ResponseCodeTooBig,
				Text: fmt.Sprintf("Message %d: literals are limited to %v bytes for this command; nothing was stored", n, appendLimit),
			}
		case total > session.MultiAppendLimit():
			return &imap.Error{
				Type: imap.StatusResponseTypeNo,
				Code: imap.ResponseCodeTooBig,
				Text: fmt.Sprintf("The messages of one APPEND are limited to %v bytes together; nothing was stored", session.MultiAppendLimit()),
			}
		case n > maxMultiAppendMessages:
			return &imap.Error{
				Type: imap.StatusResponseTypeNo,
				Code: imap.ResponseCodeLimit,
				Text: fmt.Sprintf("At most %d messages per APPEND; nothing was stored", maxMultiAppendMessages),
			}
		}
		if tx == nil {
			if err := c.checkState(imap.ConnStateAuthenticated); err != nil {
				return err
			}
			if tx, err = session.BeginAppend(mailbox); err != nil {
				tx = nil
				return err
			}
		}
		if err := c.acceptLiteral(lit.Size(), nonSync); err != nil {
			return err
		}
		c.setReadTimeout(literalReadTimeout)
		addErr := tx.Add(lit, &options)
		_, discardErr := io.Copy(io.Discard, lit)
		c.setReadTimeout(cmdReadTimeout)
		if discardErr != nil {
			return discardErr
		}
		if dataExt != "" && !dec.ExpectSpecial(')') {
			return dec.Err()
		}
		if addErr != nil {
			return addErr
		}
		if !dec.SP() {
			break
		}
	}
	if !dec.ExpectCRLF() {
		return dec.Err()
	}
	data, err := tx.Commit()
	if err != nil {
		return err
	}
	tx = nil
	if err := c.poll("APPEND"); err != nil {
		return err
	}
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom(tag).SP().Atom("OK").SP()
	if data != nil && len(data.UIDs) > 0 {
		var set imap.UIDSet
		for _, u := range data.UIDs {
			set.AddNum(u)
		}
		enc.Special('[')
		enc.Atom("APPENDUID").SP().Number(data.UIDValidity).SP().NumSet(set)
		enc.Special(']').SP()
	}
	enc.Text("APPEND completed")
	return enc.CRLF()
}

// readAppendMessage reads one message's [flags SP] [date-time SP] and the
// header of its literal (or of UTF8 (~{n}), RFC 6855).
func readAppendMessage(dec *imapwire.Decoder, options *imap.AppendOptions) (lit imap.LiteralReader, nonSync bool, dataExt string, err error) {
	hasFlagList, err := dec.List(func() error {
		flag, err := internal.ExpectFlag(dec)
		if err != nil {
			return err
		}
		options.Flags = append(options.Flags, flag)
		return nil
	})
	if err != nil {
		return nil, false, "", err
	}
	if hasFlagList && !dec.ExpectSP() {
		return nil, false, "", dec.Err()
	}
	t, err := internal.DecodeDateTime(dec)
	if err != nil {
		return nil, false, "", err
	}
	if !t.IsZero() && !dec.ExpectSP() {
		return nil, false, "", dec.Err()
	}
	options.Time = t
	options.Binary = dec.Special('~') // literal8: the session stores NULs safely
	if !options.Binary && dec.Atom(&dataExt) {
		switch strings.ToUpper(dataExt) {
		case "UTF8":
			if !dec.ExpectSP() || !dec.ExpectSpecial('(') || !dec.ExpectSpecial('~') {
				return nil, false, "", dec.Err()
			}
			options.Binary = true
		default:
			return nil, false, "", newClientBugError("Unknown APPEND data extension")
		}
	}
	lit, nonSync, err = dec.ExpectLiteralReader()
	return lit, nonSync, dataExt, err
}
