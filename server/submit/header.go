package submit

// Parsing of a submitted message's header block for the sender check. The
// check must see exactly the fields that the DKIM signer signs and that the
// recipient's client displays, or a second "from :" line would slip past
// it (issue 12 #1). go-message's reader is used because its rules match
// both: a field name ends at the first colon, blanks around it are
// ignored, names compare case-insensitively, a line starting with a blank
// continues the previous field. What those readers could disagree on is
// refused instead of guessed: a first line that starts with a blank, a
// line without a colon, a field name with bytes outside RFC 5322 ftext
// (go-message refuses all three) and a bare CR, which some clients take as
// a line break and DKIM does not.

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/emersion/go-message/textproto"
)

var errMalformedHeader = &Error{Code: 550, Enhanced: [3]int{5, 6, 0}, Message: "Malformed message header: every line must be a \"Name: value\" field or its continuation"}

// headerFields parses hdr (the header block through its blank line).
func headerFields(hdr []byte) (*textproto.Header, error) {
	if hasBareCR(hdr) {
		return nil, &Error{Code: 550, Enhanced: [3]int{5, 6, 0}, Message: "Malformed message header: it contains a CR that does not end a line"}
	}
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(hdr)))
	if err != nil {
		return nil, errMalformedHeader
	}
	return &h, nil
}

// fieldValues returns the values of every field named name, compared
// case-insensitively (go-message already canonicalises, this does not rely
// on it).
func fieldValues(h *textproto.Header, name string) []string {
	var out []string
	for f := h.Fields(); f.Next(); {
		if strings.EqualFold(strings.TrimSpace(f.Key()), name) {
			out = append(out, f.Value())
		}
	}
	return out
}

func hasBareCR(b []byte) bool {
	for i, c := range b {
		if c == '\r' && (i+1 == len(b) || b[i+1] != '\n') {
			return true
		}
	}
	return false
}
