package msgauth

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// MaxHeaderBytes bounds the header block that Verify and Sign buffer in
// memory. The body is never buffered. 1 MiB is far above anything a real
// MUA or list server produces, and keeps a hostile client from making us
// hold a 50 MB "header".
const MaxHeaderBytes = 1 << 20

// ErrHeaderTooLarge is returned when a message's header block exceeds
// MaxHeaderBytes.
var ErrHeaderTooLarge = errors.New("msgauth: message header exceeds 1 MiB")

// readHeaderBlock reads the header block of a message, including the blank
// line that ends it, leaving br positioned at the start of the body. A
// message without a blank line (header only) gets one appended, so the
// returned block is always well-terminated for the DKIM parser.
func readHeaderBlock(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	lineStart := true
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxHeaderBytes {
			return nil, ErrHeaderTooLarge
		}
		buf = append(buf, chunk...)
		switch {
		case err == bufio.ErrBufferFull:
			lineStart = false
			continue
		case err == io.EOF:
			if len(buf) > 0 && buf[len(buf)-1] != '\n' {
				buf = append(buf, '\r', '\n')
			}
			return append(buf, '\r', '\n'), nil
		case err != nil:
			return nil, err
		}
		if lineStart && (string(chunk) == "\r\n" || string(chunk) == "\n") {
			return buf, nil
		}
		lineStart = true
	}
}

// headerField is one unfolded header field.
type headerField struct {
	Name, Value string
}

// parseHeaderFields splits a header block into unfolded fields, in order.
// It is deliberately tolerant: lines without a colon are skipped rather than
// failing, because a verifier must still produce a verdict for odd mail.
func parseHeaderFields(hdr []byte) []headerField {
	var fields []headerField
	for _, line := range bytes.Split(hdr, []byte("\n")) {
		l := strings.TrimRight(string(line), "\r")
		if l == "" {
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			if len(fields) > 0 {
				fields[len(fields)-1].Value += l
			}
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		fields = append(fields, headerField{Name: strings.TrimSpace(name), Value: value})
	}
	for i := range fields {
		fields[i].Value = strings.TrimSpace(fields[i].Value)
	}
	return fields
}

// HeaderField formats "Name: value" as a complete header field ending in
// CRLF, folding at spaces so that lines stay under 78 characters where the
// value allows it. Use it to turn AuthResultsHeader and ReceivedHeader
// values into lines to prepend to a message.
func HeaderField(name, value string) string {
	const limit = 78
	var b strings.Builder
	line := name + ":"
	for _, word := range strings.Fields(value) {
		if len(line)+1+len(word) > limit && len(line) > len(name)+1 {
			b.WriteString(line)
			b.WriteString("\r\n")
			line = "\t" + word
			continue
		}
		line += " " + word
	}
	b.WriteString(line)
	b.WriteString("\r\n")
	return b.String()
}

// ReceivedInfo holds the facts of one SMTP transaction for the Received:
// trace field (RFC 5321 section 4.4). The caller fills it in.
type ReceivedInfo struct {
	Helo          string    // name the client gave in EHLO/HELO
	RDNS          string    // verified reverse DNS name of the client, "" if none
	IP            net.IP    // client address
	Hostname      string    // our host name
	TLS           bool      // the session used TLS (ESMTPS)
	Authenticated bool      // the client authenticated (ESMTPA)
	ID            string    // our queue/message id, "" to omit
	For           string    // the recipient, only when there is exactly one; "" to omit
	Date          time.Time // time of receipt
}

// ReceivedHeader returns the value of a Received: field, e.g.
//
//	from mx.example.org (mx.example.org [192.0.2.1]) by mail.example.com
//	with ESMTPS id 123 for <alice@example.com>; Mon, 02 Jan 2006 15:04:05 +0000
//
// The protocol keyword follows RFC 3848 (ESMTP, ESMTPS, ESMTPA, ESMTPSA).
// Client-supplied text (HELO) is stripped of characters that could break
// the header or its comment syntax.
func ReceivedHeader(ri ReceivedInfo) string {
	with := "ESMTP"
	if ri.TLS {
		with += "S"
	}
	if ri.Authenticated {
		with += "A"
	}
	helo := traceToken(ri.Helo)
	if helo == "" {
		helo = "unknown"
	}
	lit := "unknown"
	if ri.IP != nil {
		if ip4 := ri.IP.To4(); ip4 != nil {
			lit = ip4.String()
		} else {
			lit = "IPv6:" + ri.IP.String()
		}
	}
	comment := "[" + lit + "]"
	if rdns := traceToken(strings.TrimSuffix(ri.RDNS, ".")); rdns != "" {
		comment = rdns + " " + comment
	}
	s := fmt.Sprintf("from %s (%s) by %s with %s", helo, comment, traceToken(ri.Hostname), with)
	if id := traceToken(ri.ID); id != "" {
		s += " id " + id
	}
	if rcpt := traceToken(ri.For); rcpt != "" {
		s += " for <" + strings.Trim(rcpt, "<>") + ">"
	}
	date := ri.Date
	if date.IsZero() {
		date = time.Now()
	}
	return s + "; " + date.Format(time.RFC1123Z)
}

// traceToken keeps only printable, non-space ASCII without the characters
// that delimit comments or fields, so client-controlled strings cannot
// inject header lines or unbalance the Received comment.
func traceToken(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune("();\\\"", r) {
			return -1
		}
		return r
	}, s)
}
