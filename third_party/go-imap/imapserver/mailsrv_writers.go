// mailsrv patch: whole file. What the backend needs to know about go-imap's
// writers, so that it never reads their unexported fields by reflection
// (issue 15 #4).
package imapserver

// ForClose reports whether w is the writer CLOSE passes to
// Session.Expunge: CLOSE expunges silently, and a read-only folder is just
// closed instead of refused.
func (w *ExpungeWriter) ForClose() bool { return w == nil || w.conn == nil }
