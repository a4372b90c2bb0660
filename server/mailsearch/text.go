package mailsearch

import (
	"bytes"
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // charsets beyond UTF-8/ASCII for decoding parts and header words
	"golang.org/x/net/html"
)

// SEARCH BODY and TEXT look at the text a reader sees, as Dovecot does:
// message parts are decoded from base64 or quoted-printable and converted
// from their charset to UTF-8 before matching. A base64 HTML newsletter or
// an ISO-8859-1 body would otherwise never match a word in it. HTML parts
// count by their text, not their markup. Only text/* parts count
// (attachments are not searched), and a message that does not parse as
// MIME falls back to its raw bytes, so nothing becomes unsearchable.

// maxDecodedText bounds the decoded text kept for one message.
const maxDecodedText = maxSearchBody

// decodedBody returns the decoded text/* parts of raw, one after the other.
// Like BODYSTRUCTURE it looks MaxMIMEDepth levels deep and at
// MaxMIMEParts parts: what lies beyond is opaque (not text), so a message
// of 10,000 nested multiparts costs as much as one of 20 (issue 12 #4).
func decodedBody(raw []byte) []byte {
	e, err := message.Read(bytes.NewReader(raw))
	if e == nil || (err != nil && !decodable(err)) {
		return rawBody(raw)
	}
	var out bytes.Buffer
	budget := imapserver.MaxMIMEParts
	if err := walkText(e, 0, &budget, &out); err != nil {
		return rawBody(raw)
	}
	return out.Bytes()
}

// decodable reports errors that still leave a readable part.
func decodable(err error) bool {
	return message.IsUnknownCharset(err) || message.IsUnknownEncoding(err)
}

// walkText appends the decoded text of e and its parts to out.
func walkText(e *message.Entity, depth int, budget *int, out *bytes.Buffer) error {
	*budget--
	if depth >= imapserver.MaxMIMEDepth || *budget < 0 {
		return nil
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if err == io.EOF || p == nil {
				return nil
			}
			if err != nil && !decodable(err) {
				return err
			}
			if err := walkText(p, depth+1, budget, out); err != nil {
				return err
			}
		}
	}
	t, _, _ := e.Header.ContentType()
	if t != "" && !strings.HasPrefix(t, "text/") {
		return nil
	}
	room := int64(maxDecodedText - out.Len())
	if room <= 0 {
		return nil
	}
	body := io.LimitReader(e.Body, room)
	if t == "text/html" {
		htmlText(out, body)
	} else {
		io.Copy(out, body)
	}
	out.WriteByte('\n')
	return nil
}

// htmlText writes the text a reader sees in an HTML part: text nodes, with
// tags, comments, scripts and styles left out, so that searching for "div"
// or "font" does not match every HTML message.
func htmlText(w *bytes.Buffer, r io.Reader) {
	z := html.NewTokenizer(r)
	skip := 0 // inside <script> or <style>
	for {
		switch z.Next() {
		case html.ErrorToken:
			return
		case html.StartTagToken:
			if name, _ := z.TagName(); isHiddenHTML(name) {
				skip++
			}
			w.WriteByte(' ') // tags separate words: "a<br>b" is two
		case html.EndTagToken:
			if name, _ := z.TagName(); isHiddenHTML(name) && skip > 0 {
				skip--
			}
			w.WriteByte(' ')
		case html.TextToken:
			if skip == 0 {
				w.Write(z.Text()) // entities decoded
			}
		}
	}
}

func isHiddenHTML(tag []byte) bool {
	return string(tag) == "script" || string(tag) == "style"
}

// rawBody is what follows the header block.
func rawBody(raw []byte) []byte {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		return raw[i+4:]
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return raw[i+2:]
	}
	return nil
}

// decodedHeader returns the header block with RFC 2047 encoded words
// decoded, one field per line.
func decodedHeader(raw []byte) string {
	head := raw
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		head = raw[:i]
	}
	dec := mime.WordDecoder{CharsetReader: message.CharsetReader}
	var b strings.Builder
	for _, line := range strings.Split(string(head), "\n") {
		line = strings.TrimRight(line, "\r")
		if d, err := dec.DecodeHeader(line); err == nil {
			line = d
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}
