package store

import "strings"

// withoutComments removes RFC 5322 comments ("(...)", nested, outside
// quoted strings) from an address-list field and the folding white space
// inside "<...>", for the addresses net/mail refuses as they are, such as
// "<user (comment)@ (comment) domain.org>" (RFC 5322 §3.4.1 allows CFWS
// around the '@'). Display names keep their spaces.
func withoutComments(raw string) string {
	var b strings.Builder
	quoted, angle, depth := false, false, 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case depth > 0:
			switch c {
			case '\\':
				i++
			case '(':
				depth++
			case ')':
				depth--
			}
			continue
		case quoted:
			if c == '\\' && i+1 < len(raw) {
				b.WriteByte(c)
				i++
				c = raw[i]
			} else if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '(':
			depth++
			continue
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case angle && (c == ' ' || c == '\t' || c == '\r' || c == '\n'):
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
