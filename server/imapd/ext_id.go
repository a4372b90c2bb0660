package imapd

import (
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// serverVersion is the module version the binary was built from ("dev"
// for a build from a work tree).
func serverVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// maxIDValueLog bounds what one client field may add to a log line.
const maxIDValueLog = 128

// ID answers RFC 2971's ID with the server's name and version and logs
// the client's fields on one line of this connection; later lines of the
// connection carry the client's name too.
func (s *session) ID(client []imapserver.IDField) *imap.IDData {
	if len(client) > 0 {
		attrs := make([]any, 0, len(client))
		var name string
		for _, f := range client {
			k := strings.ToLower(logSafe(f.Key))
			v := logSafe(f.Value)
			attrs = append(attrs, slog.String(k, v))
			if k == "name" {
				name = v
			}
		}
		s.log.Info("client id", slog.Group("id", attrs...))
		if name != "" {
			s.log = s.log.With("client", name)
		}
	}
	return &imap.IDData{Name: "mailsrv", Version: serverVersion(), Vendor: "mailsrv"}
}

// logSafe cuts a client-supplied string for a log line.
func logSafe(v string) string {
	v = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, v)
	if len(v) > maxIDValueLog {
		v = v[:maxIDValueLog] + "…"
	}
	return v
}
