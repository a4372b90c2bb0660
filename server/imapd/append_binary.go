package imapd

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message/textproto"
)

// Binary content in APPEND (RFC 3516 §4.2). A client with BINARY may send
// a message as literal8 (`APPEND box ~{n}`), NUL bytes included. FETCH
// BODY[] and RFC822 answer in a plain literal, which must not contain NUL
// (RFC 3501 §4.3, CHAR8), so such a message is not stored as sent:
// as Dovecot does, every MIME part whose body holds a NUL and has an
// identity encoding (none, 7bit, 8bit, binary) is re-encoded as base64,
// which RFC 3516 §4.2 allows ("the server MAY modify the CTE ... MUST NOT
// change the content"). BINARY[] decodes the base64 and returns the
// client's bytes unchanged; every other byte of the message (headers,
// other parts, boundaries) stays as it was. A NUL that no re-encoding can
// carry (in a header, a multipart preamble, a part already base64 or
// quoted-printable) is refused with NO [UNKNOWN-CTE], the answer §4.2
// gives for binary content a server cannot store: nothing is stored, so
// nothing acknowledged is lost.
//
// A NUL in a plain literal breaks RFC 3501's grammar itself (CHAR8): it
// is BAD after the literal was read, and nothing is stored.

// maxBinaryDepth bounds the MIME nesting re-encoded; a NUL deeper down is
// refused rather than walked (issue 12 #4's limits).
const maxBinaryDepth = 32

var (
	errNULNotStorable = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnknownCTE,
		Text: "The message has a NUL byte outside a part body that could be base64-encoded; nothing was stored"}
	errNULInLiteral = &imap.Error{Type: imap.StatusResponseTypeBad,
		Text: "A literal may not contain NUL (RFC 3501 section 4.3): send binary content as literal8 ~{n} (BINARY, RFC 3516)"}
)

// errNotStorable is encodeNULParts' refusal, mapped to errNULNotStorable.
var errNotStorable = errors.New("NUL outside an encodable part body")

// binaryMessage reads a literal8 message (at most limit bytes; a longer
// one is read as far as the blob's own limit refuses it) and returns it
// with its NUL-holding parts base64-encoded.
func binaryMessage(r io.Reader, limit int64) (io.Reader, error) {
	msg, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, mapStoreErr(err)
	}
	if int64(len(msg)) > limit {
		return io.MultiReader(bytes.NewReader(msg), r), nil
	}
	enc, err := encodeNULParts(msg)
	if err != nil {
		return nil, errNULNotStorable
	}
	return bytes.NewReader(enc), nil
}

// nulWatch passes writes through and notes a NUL byte in them.
type nulWatch struct {
	w    io.Writer
	seen bool
}

func (n *nulWatch) Write(p []byte) (int, error) {
	if !n.seen && bytes.IndexByte(p, 0) >= 0 {
		n.seen = true
	}
	return n.w.Write(p)
}

// encodeNULParts returns msg with every part body that holds a NUL
// base64-encoded (see above); msg itself when it holds none.
func encodeNULParts(msg []byte) ([]byte, error) {
	if bytes.IndexByte(msg, 0) < 0 {
		return msg, nil
	}
	var out bytes.Buffer
	out.Grow(len(msg) + len(msg)/3 + 64)
	if err := encodeEntity(&out, msg, 0); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// encodeEntity writes one MIME entity (header and body) to out.
func encodeEntity(out *bytes.Buffer, ent []byte, depth int) error {
	if bytes.IndexByte(ent, 0) < 0 {
		out.Write(ent)
		return nil
	}
	hlen := headerLen(ent)
	if bytes.IndexByte(ent[:hlen], 0) >= 0 || depth > maxBinaryDepth {
		return errNotStorable
	}
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(ent[:hlen])))
	if err != nil {
		return errNotStorable
	}
	body := ent[hlen:]
	mt, params, _ := mime.ParseMediaType(h.Get("Content-Type"))
	switch {
	case strings.HasPrefix(mt, "multipart/") && params["boundary"] != "":
		out.Write(ent[:hlen])
		return encodeMultipart(out, body, params["boundary"], depth)
	case mt == "message/rfc822" || mt == "message/global":
		out.Write(ent[:hlen])
		return encodeEntity(out, body, depth+1)
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "", "7bit", "8bit", "binary":
	default:
		return errNotStorable // base64 or quoted-printable text cannot hold a NUL
	}
	h.Del("Content-Transfer-Encoding")
	h.Add("Content-Transfer-Encoding", "base64")
	if err := textproto.WriteHeader(out, h); err != nil {
		return errNotStorable
	}
	writeBase64Lines(out, body)
	return nil
}

// encodeMultipart walks a multipart body: the parts between delimiter
// lines are entities; the preamble, the delimiters and the epilogue are
// copied as they are.
func encodeMultipart(out *bytes.Buffer, body []byte, boundary string, depth int) error {
	delim := []byte("--" + boundary)
	start := -1 // start of the current part's entity
	for pos := 0; pos < len(body); {
		end := bytes.IndexByte(body[pos:], '\n')
		if end < 0 {
			end = len(body)
		} else {
			end += pos + 1
		}
		line := body[pos:end]
		if bytes.HasPrefix(line, delim) {
			rest := bytes.TrimRight(line[len(delim):], " \t\r\n")
			closing := bytes.Equal(rest, []byte("--"))
			if len(rest) == 0 || closing {
				// The CRLF before a delimiter belongs to it (RFC 2046 §5.1.1).
				cut := trimEOL(body, pos, start)
				if start < 0 {
					if bytes.IndexByte(body[:cut], 0) >= 0 {
						return errNotStorable // preamble
					}
					out.Write(body[:cut])
				} else if err := encodeEntity(out, body[start:cut], depth+1); err != nil {
					return err
				}
				out.Write(body[cut:end])
				if closing {
					if bytes.IndexByte(body[end:], 0) >= 0 {
						return errNotStorable // epilogue
					}
					out.Write(body[end:])
					return nil
				}
				start = end
			}
		}
		pos = end
	}
	// No close delimiter: the last part runs to the end.
	if start < 0 {
		if bytes.IndexByte(body, 0) >= 0 {
			return errNotStorable
		}
		out.Write(body)
		return nil
	}
	return encodeEntity(out, body[start:], depth+1)
}

// trimEOL returns where the part before a delimiter line at pos ends:
// before the line break that precedes it, but not before from.
func trimEOL(body []byte, pos, from int) int {
	cut := pos
	if cut > 0 && body[cut-1] == '\n' {
		cut--
		if cut > 0 && body[cut-1] == '\r' {
			cut--
		}
	}
	if cut < from {
		cut = from
	}
	return cut
}

// headerLen returns the length of ent's header, its blank line included
// (all of ent when there is no blank line).
func headerLen(ent []byte) int {
	if bytes.HasPrefix(ent, []byte("\r\n")) {
		return 2
	}
	if bytes.HasPrefix(ent, []byte("\n")) {
		return 1
	}
	crlf := bytes.Index(ent, []byte("\r\n\r\n"))
	lf := bytes.Index(ent, []byte("\n\n"))
	switch {
	case crlf >= 0 && (lf < 0 || crlf+1 <= lf):
		return crlf + 4
	case lf >= 0:
		return lf + 2
	}
	return len(ent)
}

// writeBase64Lines writes b as base64 in lines of 76 characters joined
// by CRLF (RFC 2045 §6.8); the line break after the last one is the
// delimiter's, or none at the end of the message.
func writeBase64Lines(out *bytes.Buffer, b []byte) {
	enc := base64.StdEncoding.EncodeToString(b)
	for len(enc) > 76 {
		out.WriteString(enc[:76])
		out.WriteString("\r\n")
		enc = enc[76:]
	}
	out.WriteString(enc)
}
