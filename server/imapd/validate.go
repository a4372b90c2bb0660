package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// checkFlags refuses flags a client may not set: a system flag (one with
// a backslash) that RFC 9051 does not define, and \Recent, which only the
// server sets. Keywords are free. An unknown system flag used to be stored
// as if it were a keyword (issue 12 #9).
func checkFlags(flags []imap.Flag) error {
	for _, f := range flags {
		if !strings.HasPrefix(string(f), `\`) {
			continue
		}
		if isSystemFlag(canonicalFlag(string(f))) {
			continue
		}
		return &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug,
			Text: "Unknown or read-only system flag " + string(f) + " (allowed: \\Seen \\Answered \\Flagged \\Deleted \\Draft and keywords)"}
	}
	return nil
}

func isSystemFlag(f string) bool {
	switch f {
	case `\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`:
		return true
	}
	return false
}
