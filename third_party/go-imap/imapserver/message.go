package imapserver

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime/quotedprintable"
	"strings"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/emersion/go-imap/v2"
)

// ExtractBodySection extracts a section of a message body.
//
// It can be used by server backends to implement Session.Fetch.
func ExtractBodySection(r io.Reader, item *imap.FetchItemBodySection) []byte {
	var (
		header textproto.Header
		body   io.Reader
	)

	br := bufio.NewReader(r)
	header, err := textproto.ReadHeader(br)
	if err != nil {
		return nil
	}
	body = br

	parentMediaType, header, body := findMessagePart(header, body, item.Part)
	if body == nil {
		return nil
	}

	if len(item.Part) > 0 {
		switch item.Specifier {
		case imap.PartSpecifierHeader, imap.PartSpecifierText:
			header, body = openMessagePart(header, body, parentMediaType)
		}
	}

	// Filter header fields
	if len(item.HeaderFields) > 0 {
		keep := make(map[string]struct{})
		for _, k := range item.HeaderFields {
			keep[strings.ToLower(k)] = struct{}{}
		}
		for field := header.Fields(); field.Next(); {
			if _, ok := keep[strings.ToLower(field.Key())]; !ok {
				field.Del()
			}
		}
	}
	for _, k := range item.HeaderFieldsNot {
		header.Del(k)
	}

	// Write the requested data to a buffer
	var buf bytes.Buffer

	writeHeader := true
	switch item.Specifier {
	case imap.PartSpecifierNone:
		writeHeader = len(item.Part) == 0
	case imap.PartSpecifierText:
		writeHeader = false
	}
	if writeHeader {
		if err := textproto.WriteHeader(&buf, header); err != nil {
			return nil
		}
	}

	switch item.Specifier {
	case imap.PartSpecifierNone, imap.PartSpecifierText:
		if _, err := io.Copy(&buf, body); err != nil {
			return nil
		}
	}

	return extractPartial(buf.Bytes(), item.Partial)
}

func findMessagePart(header textproto.Header, body io.Reader, partPath []int) (string, textproto.Header, io.Reader) {
	// First part of non-multipart message refers to the message itself
	msgHeader := gomessage.Header{header}
	mediaType, _, _ := msgHeader.ContentType()
	if !strings.HasPrefix(mediaType, "multipart/") && len(partPath) > 0 && partPath[0] == 1 {
		partPath = partPath[1:]
	}

	// mailsrv patch: parts deeper than BODYSTRUCTURE shows do not exist
	// (mimelimits.go), and looking for them would cost depth × size.
	if len(partPath) > MaxMIMEDepth {
		return "", textproto.Header{}, nil
	}
	// mailsrv patch end
	var parentMediaType string
	for i := 0; i < len(partPath); i++ {
		partNum := partPath[i]

		header, body = openMessagePart(header, body, parentMediaType)

		msgHeader := gomessage.Header{header}
		mediaType, typeParams, _ := msgHeader.ContentType()
		if !strings.HasPrefix(mediaType, "multipart/") {
			if partNum != 1 {
				return "", textproto.Header{}, nil
			}
			continue
		}

		mr := textproto.NewMultipartReader(body, typeParams["boundary"])
		found := false
		for j := 1; j <= partNum; j++ {
			p, err := mr.NextPart()
			if err != nil {
				return "", textproto.Header{}, nil
			}

			if j == partNum {
				parentMediaType = mediaType
				header = p.Header
				body = p
				found = true
				break
			}
		}
		if !found {
			return "", textproto.Header{}, nil
		}
	}

	return parentMediaType, header, body
}

func openMessagePart(header textproto.Header, body io.Reader, parentMediaType string) (textproto.Header, io.Reader) {
	msgHeader := gomessage.Header{header}
	mediaType, _, _ := msgHeader.ContentType()
	if !msgHeader.Has("Content-Type") && parentMediaType == "multipart/digest" {
		mediaType = "message/rfc822"
	}
	if mediaType == "message/rfc822" || mediaType == "message/global" {
		br := bufio.NewReader(body)
		header, _ = textproto.ReadHeader(br)
		return header, br
	}
	return header, body
}

func extractPartial(b []byte, partial *imap.SectionPartial) []byte {
	if partial == nil {
		return b
	}

	end := partial.Offset + partial.Size
	if partial.Offset > int64(len(b)) {
		return nil
	}
	if end > int64(len(b)) {
		end = int64(len(b))
	}
	return b[partial.Offset:end]
}

func ExtractBinarySection(r io.Reader, item *imap.FetchItemBinarySection) []byte {
	// mailsrv patch: decoding is ExtractBinarySectionErr's.
	b, _ := ExtractBinarySectionErr(r, item)
	return b
}

// mailsrv patch end

// mailsrv patch: ErrUnknownCTE, ExtractBinarySectionErr, decodeCTE.
// Upstream decoded parts with gomessage.New, which also converts the
// charset of text parts (when go-message/charset is linked in) and returns
// nothing at all for an unknown charset or transfer encoding. BINARY
// (RFC 3516) undoes the Content-Transfer-Encoding only, and an encoding
// the server cannot decode fails the command with NO [UNKNOWN-CTE].

// ErrUnknownCTE reports a part whose Content-Transfer-Encoding is none of
// 7bit, 8bit, binary, quoted-printable and base64.
var ErrUnknownCTE = errors.New("unknown Content-Transfer-Encoding")

// ExtractBinarySectionErr is ExtractBinarySection with ErrUnknownCTE for a
// part it cannot decode. A section that does not exist is empty.
func ExtractBinarySectionErr(r io.Reader, item *imap.FetchItemBinarySection) ([]byte, error) {
	br := bufio.NewReader(r)
	header, err := textproto.ReadHeader(br)
	if err != nil {
		return nil, nil
	}
	_, header, body := findMessagePart(header, br, item.Part)
	if body == nil {
		return nil, nil
	}
	decoded, err := decodeCTE(header, body)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if len(item.Part) == 0 {
		if err := textproto.WriteHeader(&buf, header); err != nil {
			return nil, nil
		}
	}
	// A broken encoding (bad base64) gives what decoded up to it.
	_, _ = io.Copy(&buf, decoded)
	return extractPartial(buf.Bytes(), item.Partial), nil
}

// decodeCTE undoes a non-multipart part's Content-Transfer-Encoding
// (RFC 2045 §6); a multipart's is ignored (it may only be an identity).
func decodeCTE(header textproto.Header, body io.Reader) (io.Reader, error) {
	mh := gomessage.Header{header}
	mediaType, _, _ := mh.ContentType()
	if strings.HasPrefix(mediaType, "multipart/") {
		return body, nil
	}
	enc := strings.ToLower(strings.TrimSpace(header.Get("Content-Transfer-Encoding")))
	if i := strings.IndexAny(enc, " \t(;"); i >= 0 {
		enc = enc[:i] // a trailing comment or parameter
	}
	switch enc {
	case "", "7bit", "8bit", "binary":
		return body, nil
	case "quoted-printable":
		return quotedprintable.NewReader(body), nil
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &base64Filter{r: body}), nil
	}
	return nil, ErrUnknownCTE
}

// base64Filter drops what is not base64 alphabet or padding (line breaks,
// spaces: RFC 2045 §6.8 says decoders ignore them).
type base64Filter struct{ r io.Reader }

func (f *base64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// mailsrv patch end

func ExtractBinarySectionSize(r io.Reader, item *imap.FetchItemBinarySectionSize) uint32 {
	// TODO: optimize
	b := ExtractBinarySection(r, &imap.FetchItemBinarySection{Part: item.Part})
	return uint32(len(b))
}

// ExtractEnvelope returns a message envelope from its header.
//
// It can be used by server backends to implement Session.Fetch.
func ExtractEnvelope(h textproto.Header) *imap.Envelope {
	mh := mail.Header{gomessage.Header{h}}
	date, _ := mh.Date()
	subject, _ := mh.Subject()
	inReplyTo, _ := mh.MsgIDList("In-Reply-To")
	messageID, _ := mh.MessageID()
	return &imap.Envelope{
		Date:      date,
		Subject:   subject,
		From:      parseAddressList(mh, "From"),
		Sender:    parseAddressList(mh, "Sender"),
		ReplyTo:   parseAddressList(mh, "Reply-To"),
		To:        parseAddressList(mh, "To"),
		Cc:        parseAddressList(mh, "Cc"),
		Bcc:       parseAddressList(mh, "Bcc"),
		InReplyTo: inReplyTo,
		MessageID: messageID,
	}
}

func parseAddressList(mh mail.Header, k string) []imap.Address {
	// TODO: handle groups
	addrs, _ := mh.AddressList(k)
	var l []imap.Address
	for _, addr := range addrs {
		mailbox, host, ok := strings.Cut(addr.Address, "@")
		if !ok {
			continue
		}
		l = append(l, imap.Address{
			Name:    addr.Name,
			Mailbox: mailbox,
			Host:    host,
		})
	}
	return l
}

// ExtractBodyStructure extracts the structure of a message body.
//
// It can be used by server backends to implement Session.Fetch.
// mailsrv patch: the structure is built in one streaming pass with bounded
// nesting and part count (mimelimits.go), and every multipart has at least
// one child, so that no message content can make the encoder panic or the
// parse cost grow with depth × size (issue 12 #3, #4).
func ExtractBodyStructure(r io.Reader) imap.BodyStructure {
	br := bufio.NewReader(r)
	header, _ := textproto.ReadHeader(br)
	return extractBodyStructure(header, br, &mimeBudget{parts: MaxMIMEParts}, 0)
}

func extractBodyStructure(rawHeader textproto.Header, r io.Reader, budget *mimeBudget, depth int) imap.BodyStructure {
	header := gomessage.Header{rawHeader}

	mediaType, typeParams, _ := header.ContentType()
	primaryType, subType, _ := strings.Cut(mediaType, "/")
	budget.parts--
	opaque := depth >= MaxMIMEDepth || budget.parts < 0

	if primaryType == "multipart" && !opaque {
		bs := &imap.BodyStructureMultiPart{Subtype: subType}
		mr := textproto.NewMultipartReader(r, typeParams["boundary"])
		for {
			part, _ := mr.NextPart()
			if part == nil {
				break
			}
			bs.Children = append(bs.Children, extractBodyStructure(part.Header, part, budget, depth+1))
		}
		if len(bs.Children) == 0 {
			bs.Children = append(bs.Children, emptyTextPart())
		}
		bs.Extended = &imap.BodyStructureMultiPartExt{
			Params:      typeParams,
			Disposition: getContentDisposition(header),
			Language:    getContentLanguage(header),
			Location:    header.Get("Content-Location"),
		}
		return bs
	} else {
		if opaque && (primaryType == "multipart" || primaryType == "message") {
			// Too deep or too many parts: the rest is one opaque part.
			primaryType, subType, mediaType = "application", "octet-stream", "application/octet-stream"
			typeParams = nil
		}
		cr := &countingReader{r: r}
		bs := &imap.BodyStructureSinglePart{
			Type:        primaryType,
			Subtype:     subType,
			Params:      typeParams,
			ID:          header.Get("Content-Id"),
			Description: header.Get("Content-Description"),
			Encoding:    header.Get("Content-Transfer-Encoding"),
		}
		if mediaType == "message/rfc822" || mediaType == "message/global" {
			br := bufio.NewReader(cr)
			childHeader, _ := textproto.ReadHeader(br)
			bs.MessageRFC822 = &imap.BodyStructureMessageRFC822{
				Envelope:      ExtractEnvelope(childHeader),
				BodyStructure: extractBodyStructure(childHeader, br, budget, depth+1),
			}
			io.Copy(io.Discard, br)
		}
		io.Copy(io.Discard, cr)
		bs.Size = uint32(cr.n)
		if cr.n > 1<<32-1 {
			bs.Size = 1<<32 - 1
		}
		if bs.MessageRFC822 != nil {
			bs.MessageRFC822.NumLines = cr.lines
		}
		if primaryType == "text" {
			bs.Text = &imap.BodyStructureText{
				NumLines: cr.lines,
			}
		}
		bs.Extended = &imap.BodyStructureSinglePartExt{
			Disposition: getContentDisposition(header),
			Language:    getContentLanguage(header),
			Location:    header.Get("Content-Location"),
		}
		return bs
	}
}

// mailsrv patch end

func getContentDisposition(header gomessage.Header) *imap.BodyStructureDisposition {
	disp, dispParams, _ := header.ContentDisposition()
	if disp == "" {
		return nil
	}
	return &imap.BodyStructureDisposition{
		Value:  disp,
		Params: dispParams,
	}
}

func getContentLanguage(header gomessage.Header) []string {
	v := header.Get("Content-Language")
	if v == "" {
		return nil
	}
	// TODO: handle CFWS
	l := strings.Split(v, ",")
	for i, lang := range l {
		l[i] = strings.TrimSpace(lang)
	}
	return l
}
