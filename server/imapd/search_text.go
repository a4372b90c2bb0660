package imapd

import (
	"bytes"
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // charsets beyond UTF-8/ASCII for decoding parts and header words
)

// SEARCH BODY and TEXT look at the text a reader sees, as Dovecot does:
// message parts are decoded from base64 or quoted-printable and converted
// from their charset to UTF-8 before matching. A base64 HTML newsletter or
// an ISO-8859-1 body would otherwise never match a word in it. Only text/*
// parts count (attachments are not searched), and a message that does not
// parse as MIME falls back to its raw bytes, so nothing becomes
// unsearchable.

// maxDecodedText bounds the decoded text kept for one message.
const maxDecodedText = maxSearchBody

// decodedBody returns the decoded text/* parts of raw, one after the other.
func decodedBody(raw []byte) []byte {
	e, err := message.Read(bytes.NewReader(raw))
	if e == nil || (err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err)) {
		return rawBody(raw)
	}
	var out bytes.Buffer
	werr := e.Walk(func(_ []int, part *message.Entity, err error) error {
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return err
		}
		if part == nil || part.MultipartReader() != nil {
			return nil
		}
		t, _, _ := part.Header.ContentType()
		if t != "" && !strings.HasPrefix(t, "text/") {
			return nil
		}
		room := int64(maxDecodedText - out.Len())
		if room <= 0 {
			return nil
		}
		io.Copy(&out, io.LimitReader(part.Body, room))
		out.WriteByte('\n')
		return nil
	})
	if werr != nil {
		return rawBody(raw)
	}
	return out.Bytes()
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
