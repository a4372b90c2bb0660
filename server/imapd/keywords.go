package imapd

import (
	"slices"
	"sync"

	"github.com/emersion/go-imap/v2"
)

// Keywords (RFC 3501 §2.3.2, §7.2.6; RFC 9051 §7.3.5): a client learns
// the flags a folder uses from the untagged FLAGS response, and a FETCH
// may only show flags that FLAGS listed. The store keeps each folder's
// keywords (store.Folder.Keywords, growing only); the folder state in the
// registry holds the same list in commit order, and each change that uses
// a keyword for the first time queues a FLAGS update ahead of its own
// FETCH/EXISTS updates. Because a FETCH or STORE answer reads the store
// directly (possibly ahead of the event), it also checks the flags it is
// about to write and announces any keyword the session was not told of.

// keywordView is what one session was told: the keywords of its FLAGS
// responses so far. It only grows, so a FLAGS update queued earlier never
// hides a keyword announced since.
type keywordView struct {
	mu        sync.Mutex
	announced []string
	// perm is PERMANENTFLAGS without keywords; it ends in \* when the
	// session may create keywords.
	perm []imap.Flag
}

// isKeyword reports a flag that is not a system flag.
func isKeyword(f string) bool { return f != "" && f[0] != '\\' }

// add records kws and reports whether any was new.
func (v *keywordView) add(kws []string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.addLocked(kws)
}

func (v *keywordView) addLocked(kws []string) bool {
	added := false
	for _, k := range kws {
		if isKeyword(k) && !slices.Contains(v.announced, k) {
			v.announced = append(v.announced, k)
			added = true
		}
	}
	return added
}

// flags is the FLAGS list: system flags, then the announced keywords.
func (v *keywordView) flags() []imap.Flag {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := systemFlags()
	for _, k := range v.announced {
		out = append(out, imap.Flag(k))
	}
	return out
}

// permanent is the PERMANENTFLAGS list: what the session may store.
func (v *keywordView) permanent() []imap.Flag {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := slices.Clone(v.perm)
	if !slices.Contains(out, imap.FlagWildcard) {
		return out
	}
	out = out[:len(out)-1]
	for _, k := range v.announced {
		out = append(out, imap.Flag(k))
	}
	return append(out, imap.FlagWildcard)
}

// onQueuedFlags is the tracker's hook for a queued FLAGS update: it records
// the keywords and writes the session's whole list instead.
func (v *keywordView) onQueuedFlags(q []imap.Flag) []imap.Flag {
	kws := make([]string, 0, len(q))
	for _, f := range q {
		kws = append(kws, string(f))
	}
	v.add(kws)
	return v.flags()
}

// appendAnnounce appends "* FLAGS" and "* OK [PERMANENTFLAGS]" lines to b
// when flags hold a keyword the session has not been told of yet.
func (v *keywordView) appendAnnounce(b []byte, flags []string) []byte {
	if !v.add(flags) {
		return b
	}
	b = append(b, "* FLAGS ("...)
	b = appendFlagList(b, v.flags())
	b = append(b, ")\r\n* OK [PERMANENTFLAGS ("...)
	b = appendFlagList(b, v.permanent())
	return append(b, ")] Flags permitted\r\n"...)
}

func appendFlagList(b []byte, flags []imap.Flag) []byte {
	for i, f := range flags {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, f...)
	}
	return b
}

// announce writes the FLAGS lines for any unannounced keyword in flags
// between two go-imap responses.
func (s *session) announce(flags []string) error {
	if !slices.ContainsFunc(flags, isKeyword) {
		return nil
	}
	b := s.sel.kw.appendAnnounce(nil, flags)
	if len(b) == 0 {
		return nil
	}
	return s.writeRaw(b)
}

// writeRaw writes whole response lines through go-imap's buffered writer
// (in order with its own responses, under its write timeout).
func (s *session) writeRaw(b []byte) error { return s.conn.WriteRaw(b) }
