// Package mailsort owns the ordering of messages for IMAP SORT and THREAD
// (RFC 5256, RFC 5957): the base subject and sent date of a message, the
// sort keys, and the ORDEREDSUBJECT and REFERENCES threading algorithms.
// It works on header data already cached by the store (store.Envelope),
// never on message bodies, and knows nothing of sessions or the wire.
package mailsort

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// BaseSubject extracts the base subject of a (MIME-decoded) subject per
// RFC 5256 §2.1, and reports whether the subject said it was a reply or a
// forward (a leader removed in steps 2–5), which THREAD REFERENCES needs.
// The result is folded for comparison (i;unicode-casemap, approximated by
// Unicode simple case folding).
func BaseSubject(subject string) (base string, reply bool) {
	// Step 1: whitespace runs (tabs, folded lines) become one space.
	s := collapseWSP(subject)
	for {
		// Step 2: trailing "(fwd)" and whitespace.
		for {
			t := strings.TrimRight(s, " ")
			if n := len(t); n >= 5 && strings.EqualFold(t[n-5:], "(fwd)") {
				s, reply = t[:n-5], true
				continue
			}
			s = t
			break
		}
		// Steps 3 and 4 until nothing changes.
		for {
			before := s
			var r bool
			s, r = stripLeader(s)
			reply = reply || r
			if rest := skipBlob(s); rest != s && rest != "" {
				s = rest
			}
			if s == before {
				break
			}
		}
		// Step 5: "[fwd: ... ]".
		if len(s) >= 6 && strings.EqualFold(s[:5], "[fwd:") && s[len(s)-1] == ']' {
			s, reply = s[5:len(s)-1], true
			continue
		}
		break
	}
	return fold(s), reply
}

// collapseWSP turns every run of whitespace into one space.
func collapseWSP(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	if space {
		b.WriteByte(' ')
	}
	return b.String()
}

// stripLeader removes one subj-leader: leading whitespace, or
// *subj-blob subj-refwd ("re", "fw", "fwd", optional blob, ":").
func stripLeader(s string) (string, bool) {
	if strings.HasPrefix(s, " ") {
		return strings.TrimLeft(s, " "), false
	}
	t := s
	for {
		u := skipBlob(t)
		if u == t {
			break
		}
		t = u
	}
	low := strings.ToLower(t)
	var n int
	switch {
	case strings.HasPrefix(low, "re"):
		n = 2
	case strings.HasPrefix(low, "fwd"):
		n = 3
	case strings.HasPrefix(low, "fw"):
		n = 2
	default:
		return s, false
	}
	t = strings.TrimLeft(t[n:], " ")
	t = skipBlob(t)
	if !strings.HasPrefix(t, ":") {
		return s, false
	}
	return t[1:], true
}

// skipBlob removes one leading subj-blob ("[" *BLOBCHAR "]" *WSP), or
// returns s unchanged.
func skipBlob(s string) string {
	if !strings.HasPrefix(s, "[") {
		return s
	}
	end := strings.IndexAny(s[1:], "[]")
	if end < 0 || s[1+end] != ']' {
		return s
	}
	return strings.TrimLeft(s[end+2:], " ")
}

// fold maps s for i;unicode-casemap-like comparison. Both that
// collation (RFC 5051: titlecase) and i;ascii-casemap (RFC 4790: a-z to
// A-Z) map to upper case, so letters sort before "[", "_" and the other
// ASCII punctuation above "Z", as Dovecot sorts them.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToUpper(s)
	}
	return strings.Map(func(r rune) rune {
		// Title case, lower, title case again folds most
		// compatibility pairs the way RFC 5051 does for comparison.
		return unicode.ToTitle(unicode.ToLower(unicode.ToTitle(r)))
	}, s)
}

// Fold is the comparison form used for address and display-name keys.
func Fold(s string) string { return fold(s) }
