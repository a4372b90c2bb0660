// mailsrv patch: whole file. Bounds on MIME parsing of stored messages.
//
// Anyone can deliver a message, and each nesting level of multipart
// readers re-reads the bytes inside it, so 10,000 nested multiparts
// (800 KB) cost 23 s per BODYSTRUCTURE upstream. Structure is built to
// MaxMIMEDepth levels and MaxMIMEParts parts; what lies deeper or beyond
// is one opaque application/octet-stream part, as BODYSTRUCTURE shows it.
// Dovecot bounds its parser the same way.
package imapserver

import (
	"bytes"
	"io"

	"github.com/emersion/go-imap/v2"
)

const (
	// MaxMIMEDepth is how many multipart or message/rfc822 levels are
	// parsed; real mail rarely nests more than 5.
	MaxMIMEDepth = 20
	// MaxMIMEParts is how many parts of one message are parsed.
	MaxMIMEParts = 1000
)

// mimeBudget counts the parts left to parse in one message.
type mimeBudget struct{ parts int }

// emptyTextPart stands in for the children of a multipart that has none
// (no delimiter lines, only a close delimiter, an empty boundary): IMAP's
// body-type-mpart needs at least one, and go-imap's encoder panics
// without. An empty text/plain part is what other servers answer.
func emptyTextPart() imap.BodyStructure {
	return &imap.BodyStructureSinglePart{
		Type:     "text",
		Subtype:  "plain",
		Params:   map[string]string{"charset": "us-ascii"},
		Text:     &imap.BodyStructureText{},
		Extended: &imap.BodyStructureSinglePartExt{},
	}
}

// countingReader counts the bytes and lines read through it.
type countingReader struct {
	r     io.Reader
	n     int64
	lines int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.lines += int64(bytes.Count(p[:n], []byte("\n")))
	return n, err
}
