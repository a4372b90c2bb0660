package config

import (
	"strconv"
	"strings"
)

// keyLines maps a TOML key (its parts joined by NUL) to the 1-based line
// where the file defines it.
//
// BurntSushi/toml knows key positions but does not export them, and reports
// them only for some errors. Unknown keys and values rejected by Validate
// need a line too, so we index the file ourselves. The scanner understands
// as much TOML as it must to not be fooled: table headers, dotted and quoted
// keys, strings (including multi-line ones) and values spanning lines. It is
// only used for error messages; parsing proper is the library's job.
type keyLines map[string]int

// find returns the line of k, or of its closest defined parent (a key set by
// an inline table, or a table header), or 0.
func (kl keyLines) find(k []string) int {
	for n := len(k); n > 0; n-- {
		if l, ok := kl[strings.Join(k[:n], "\x00")]; ok {
			return l
		}
	}
	return 0
}

// exact returns the line of k itself, or 0.
func (kl keyLines) exact(k []string) int { return kl[strings.Join(k, "\x00")] }

func (kl keyLines) add(k []string, line int) {
	// Record the key and its implicit parents (a.b = 1 defines a), keeping
	// the first definition.
	for n := 1; n <= len(k); n++ {
		s := strings.Join(k[:n], "\x00")
		if _, ok := kl[s]; !ok {
			kl[s] = line
		}
	}
}

func indexKeyLines(data []byte) keyLines {
	kl := keyLines{}
	var table []string
	openML := "" // closing delimiter of a multi-line string we are inside
	depth := 0   // unclosed [ and { of a value spanning lines
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		if openML != "" {
			idx := strings.Index(line, openML)
			if idx < 0 {
				continue
			}
			line = line[idx+len(openML):]
			openML = ""
			depth, openML = scanValue(line, depth)
			continue
		}
		if depth > 0 {
			depth, openML = scanValue(line, depth)
			continue
		}
		s := strings.TrimSpace(line)
		switch {
		case s == "" || s[0] == '#':
		case strings.HasPrefix(s, "[["):
			if parts, _, ok := parseKey(s[2:], ']'); ok {
				table = parts
				kl.add(table, n)
			}
		case s[0] == '[':
			if parts, _, ok := parseKey(s[1:], ']'); ok {
				table = parts
				kl.add(table, n)
			}
		default:
			parts, rest, ok := parseKey(s, '=')
			if !ok {
				continue
			}
			kl.add(append(append([]string(nil), table...), parts...), n)
			depth, openML = scanValue(rest, 0)
		}
	}
	return kl
}

// parseKey reads a possibly dotted, possibly quoted key from s up to the
// terminator byte, returning its parts and the text after the terminator.
func parseKey(s string, term byte) (parts []string, rest string, ok bool) {
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return nil, "", false
		}
		var part string
		switch s[i] {
		case '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, "", false
			}
			var err error
			if part, err = strconv.Unquote(s[i : j+1]); err != nil {
				part = s[i+1 : j]
			}
			i = j + 1
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, "", false
			}
			part = s[i+1 : i+1+j]
			i += j + 2
		default:
			j := i
			for j < len(s) && isBare(s[j]) {
				j++
			}
			if j == i {
				return nil, "", false
			}
			part = s[i:j]
			i = j
		}
		parts = append(parts, part)
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return nil, "", false
		}
		switch s[i] {
		case '.':
			i++
		case term:
			return parts, s[i+1:], true
		default:
			return nil, "", false
		}
	}
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// scanValue walks (part of) a value, tracking bracket depth outside strings
// and comments. It returns the new depth and, if a multi-line string opened
// and did not close on this line, its closing delimiter.
func scanValue(s string, depth int) (int, string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '#':
			return depth, ""
		case '[', '{':
			depth++
		case ']', '}':
			if depth > 0 {
				depth--
			}
		case '"', '\'':
			delim := string(c)
			if strings.HasPrefix(s[i:], strings.Repeat(delim, 3)) {
				delim = strings.Repeat(delim, 3)
			}
			j := i + len(delim)
			for {
				if j >= len(s) {
					if len(delim) == 3 {
						return depth, delim
					}
					return depth, "" // unterminated: the parser reports it
				}
				if c == '"' && s[j] == '\\' {
					j += 2
					continue
				}
				if strings.HasPrefix(s[j:], delim) {
					break
				}
				j++
			}
			i = j + len(delim) - 1
		}
	}
	return depth, ""
}
