package imapd

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-sasl"

	"mailsrv/auth"
	"mailsrv/auth/acl"
	"mailsrv/auth/login"
	"mailsrv/store"
)

// sharedPrefix is the shared namespace (SPEC §6.1).
const sharedPrefix = "Shared/"

// session is one IMAP connection.
type session struct {
	ctx       context.Context // the server's base context (store calls)
	srv       *Server
	conn      *imapserver.Conn
	ipKey     string
	started   time.Time
	authFails int
	id        string       // connection id, on every log line
	log       *slog.Logger // the server's logger with conn and remote

	// Set by a successful login.
	user    string         // authenticated identity: rights subject and audit actor
	userKey string         // per-user connection count key
	root    *store.Mailbox // mailbox at the namespace root
	rootAll bool           // the user owns root (own account or shared self-login)

	sel *selection
	// held is the folder state of the last selection, kept open after
	// UNSELECT/CLOSE (go-imap unselects before every SELECT) until the
	// next SELECT has opened its own: selecting the same folder again then
	// finds it loaded instead of reading every UID of it (issue 19).
	held *folderState
}

var (
	errNoSuchMailbox    = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: "No such mailbox"}
	errLoginUnavailable = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Login temporarily unavailable, try again later"}
	errLoginNotAllowed  = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthorizationFailed, Text: "You may not open that mailbox; ask its owner for the read right"}
	errTooManyConns     = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: "Too many connections for this user"}
)

// Logger makes go-imap log this connection's lines with its id.
func (s *session) Logger() imapserver.Logger { return slogPrintf{s.log} }

func noPerm(what string) error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNoPerm, Text: "Permission denied: " + what}
}

// --- authentication ---

func (s *session) Login(username, password string) error {
	return s.authenticate("", username, password)
}

func (s *session) AuthenticateMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

// Authenticate offers the same SASL mechanisms as submission (auth/sasl.go).
func (s *session) Authenticate(mech string) (sasl.Server, error) {
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return auth.NewPlainServer(s.authenticate), nil
	case sasl.Login:
		return auth.NewLoginServer(func(username, password string) error {
			return s.authenticate("", username, password)
		}), nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Unsupported SASL mechanism"}
}

// authenticate runs the shared login decision (auth/login): own account,
// "member\shared" delegate login, PLAIN authzid, or a shared mailbox's own
// password. A store error or throttling is NO [UNAVAILABLE] (nothing was
// decided); after auth.MaxFailuresPerConnection failures the connection is
// closed once the NO is written.
func (s *session) authenticate(authzid, username, password string) error {
	id, err := s.srv.login.Login(s.ctx, login.Request{
		Authzid: authzid, Username: username, Password: password, Remote: s.conn.NetConn().RemoteAddr(),
	})
	if err != nil {
		s.srv.opts.Metrics.AuthFailure("imap")
		s.log.Info("login failed", "user", username, "remote", s.ipKey, "reason", err)
		if errors.Is(err, login.ErrTemporary) {
			return errLoginUnavailable
		}
		if s.authFails++; s.authFails >= auth.MaxFailuresPerConnection {
			s.closeAfterNextWrite()
		}
		if errors.Is(err, login.ErrNotAllowed) {
			return errLoginNotAllowed
		}
		return imapserver.ErrAuthFailed
	}
	if !s.srv.acquire(s.srv.perUser, id.User, s.srv.maxPerUser()) {
		return errTooManyConns
	}
	s.user, s.userKey, s.root, s.rootAll = id.User, id.User, id.Root, !id.Delegate
	s.log.Debug("login", "user", id.User, "mailbox", id.Root.Address)
	return nil
}

func (s *session) Close() error {
	s.unselect()
	s.releaseHeld()
	if s.userKey != "" {
		s.srv.release(s.srv.perUser, s.userKey)
	}
	s.srv.release(s.srv.perIP, s.ipKey)
	if s.srv.opts.Limits.MaxConnections > 0 {
		s.srv.release(s.srv.perIP, "all")
	}
	s.srv.opts.Metrics.ConnClosed("imap")
	return nil
}

// observe records a command's duration (go-imap has no per-command hook,
// so the session methods that do real work report themselves).
func (s *session) observe(name string, start time.Time) {
	s.srv.opts.Metrics.IMAPCommand(name, time.Since(start))
}

// --- naming and rights ---

// target is a resolved client mailbox name.
type target struct {
	mb     *store.Mailbox
	folder string // store folder name
	rights acl.Rights
}

// shared reports whether changes in t are audited (made to a shared mailbox).
func (t *target) shared() bool { return t.mb.Kind == store.MailboxShared }

// canonicalName maps inbox in any case to INBOX, also inside Shared/x/.
func canonicalName(name string) string {
	name = strings.TrimSuffix(name, "/")
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	if strings.HasPrefix(name, "INBOX/") || len(name) > 6 && strings.EqualFold(name[:6], "INBOX/") {
		return "INBOX/" + name[6:]
	}
	return name
}

// resolve maps a client name to a mailbox and folder and reads the
// session user's current rights. A shared mailbox the user cannot read is
// reported as nonexistent, never as forbidden.
func (s *session) resolve(name string) (*target, error) {
	name = canonicalName(name)
	st := s.srv.st
	if s.root.Kind == store.MailboxPersonal && s.rootAll && strings.HasPrefix(name, sharedPrefix) {
		rest := name[len(sharedPrefix):]
		addr, folder, ok := strings.Cut(rest, "/")
		if !ok || folder == "" {
			return nil, errNoSuchMailbox
		}
		addr, err := store.NormalizeAddress(addr)
		if err != nil {
			return nil, errNoSuchMailbox
		}
		mb, err := st.MailboxByAddress(s.ctx, addr)
		if err != nil || mb.Kind != store.MailboxShared || mb.Deleted != nil {
			return nil, errNoSuchMailbox
		}
		r, err := st.RightsOf(s.ctx, mb.ID, s.user)
		if err != nil || !acl.Allows(r, acl.OpList) {
			return nil, errNoSuchMailbox
		}
		return &target{mb: mb, folder: canonicalName(folder), rights: r}, nil
	}
	r, err := s.rootRights()
	if err != nil {
		return nil, err
	}
	return &target{mb: s.root, folder: name, rights: r}, nil
}

// rootRights reads the user's rights on the root mailbox; a delegate whose
// read right was revoked loses the whole session's namespace.
func (s *session) rootRights() (acl.Rights, error) {
	if s.rootAll {
		return acl.All, nil
	}
	r, err := s.srv.st.RightsOf(s.ctx, s.root.ID, s.user)
	if err != nil {
		return 0, err
	}
	if !acl.Allows(r, acl.OpList) {
		return 0, noPerm("access to this shared mailbox was revoked, or it was removed")
	}
	return r, nil
}

// need checks op on t.
func need(t *target, op acl.Op) error {
	if !acl.Allows(t.rights, op) {
		return noPerm("needs " + acl.Required(op).String() + " on " + t.mb.Address)
	}
	return nil
}

// audit records a delegate's folder-level change to a shared mailbox.
func (s *session) audit(t *target, action, folder string) {
	if !t.shared() {
		return
	}
	err := s.srv.st.AuditAction(s.ctx, t.mb.ID, store.AuditEntry{Actor: s.user, Action: action, Folder: folder})
	if err != nil {
		s.log.Warn("audit", "err", err)
	}
}

func mapStoreErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return errNoSuchMailbox
	case errors.Is(err, store.ErrExists):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlreadyExists, Text: "Mailbox already exists"}
	case errors.Is(err, store.ErrOverQuota): // ext_quota.go
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeOverQuota, Text: "Over quota: the mailbox is full; delete or expunge messages first"}
	case errors.Is(err, store.ErrTooLarge):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig, Text: "Message too large"}
	case errors.Is(err, store.ErrInvalid):
		// A request the store refuses (a bad folder name): its text is
		// one sentence for the user.
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: err.Error()}
	}
	// Anything else is unexpected: go-imap logs it with the connection
	// id and the command, and answers a generic NO [SERVERBUG], so no
	// internal detail reaches the client.
	return err
}

// --- authenticated state ---

func (s *session) Namespace() (*imap.NamespaceData, error) {
	d := &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: '/'}}}
	if s.root.Kind == store.MailboxPersonal && s.rootAll {
		d.Shared = []imap.NamespaceDescriptor{{Prefix: sharedPrefix, Delim: '/'}}
	}
	return d, nil
}

func (s *session) Create(name string, _ *imap.CreateOptions) error {
	if s.isSharedNode(name) {
		return mapStoreErr(store.ErrExists)
	}
	t, err := s.resolve(name)
	if err != nil {
		return err
	}
	if err := need(t, acl.OpCreateFolder); err != nil {
		return err
	}
	// CREATE does not subscribe (store/client_folder.go); in another
	// mailbox only this member's own subscription is off.
	member := s.user
	if t.mb.ID == s.root.ID && s.rootAll {
		member = ""
	}
	// RFC 3501 §6.3.3: CREATE a/b/c creates the missing a and a/b too.
	for i := strings.IndexByte(t.folder, '/'); i > 0; i = nextSlash(t.folder, i) {
		parent := t.folder[:i]
		if _, err := s.srv.st.GetFolder(s.ctx, t.mb.ID, parent); errors.Is(err, store.ErrNotFound) {
			if _, err := s.srv.st.CreateClientFolder(s.ctx, t.mb.ID, parent, member); err != nil && !errors.Is(err, store.ErrExists) {
				return mapStoreErr(err)
			}
			s.audit(t, "create folder", parent)
		}
	}
	if _, err := s.srv.st.CreateClientFolder(s.ctx, t.mb.ID, t.folder, member); err != nil {
		return mapStoreErr(err)
	}
	s.audit(t, "create folder", t.folder)
	return nil
}

// nextSlash returns the index of the next "/" in name after i, or -1.
func nextSlash(name string, i int) int {
	j := strings.IndexByte(name[i+1:], '/')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// isSharedNode reports names reserved for the shared namespace tree.
func (s *session) isSharedNode(name string) bool {
	if !(s.root.Kind == store.MailboxPersonal && s.rootAll) {
		return false
	}
	name = strings.TrimSuffix(name, "/")
	return name == "Shared" || (strings.HasPrefix(name, sharedPrefix) && !strings.Contains(name[len(sharedPrefix):], "/"))
}

func (s *session) Delete(name string) error {
	t, err := s.resolve(name)
	if err != nil {
		return err
	}
	if err := need(t, acl.OpDeleteFolder); err != nil {
		return err
	}
	if err := s.srv.st.DeleteFolder(s.ctx, t.mb.ID, t.folder); err != nil {
		return mapStoreErr(err)
	}
	s.audit(t, "delete folder", t.folder)
	return nil
}

func (s *session) Rename(oldName, newName string, _ *imap.RenameOptions) error {
	from, err := s.resolve(oldName)
	if err != nil {
		return err
	}
	to, err := s.resolve(newName)
	if err != nil {
		return err
	}
	if from.mb.ID != to.mb.ID {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Cannot rename across mailboxes"}
	}
	if err := need(from, acl.OpRenameFolder); err != nil {
		return err
	}
	if err := s.srv.st.RenameFolder(s.ctx, from.mb.ID, from.folder, to.folder); err != nil {
		return mapStoreErr(err)
	}
	s.audit(from, "rename folder to "+to.folder, from.folder)
	return nil
}

func (s *session) Subscribe(name string) error   { return s.subscribe(name, true) }
func (s *session) Unsubscribe(name string) error { return s.subscribe(name, false) }

func (s *session) subscribe(name string, on bool) error {
	t, err := s.resolve(name)
	if err != nil {
		return err
	}
	if t.mb.ID == s.root.ID && s.rootAll {
		return mapStoreErr(s.srv.st.SetSubscribed(s.ctx, t.mb.ID, t.folder, on))
	}
	// Another mailbox's folder: the subscription is this member's alone.
	f, err := s.srv.st.GetFolder(s.ctx, t.mb.ID, t.folder)
	if err != nil {
		return mapStoreErr(err)
	}
	return mapStoreErr(s.srv.st.SetUserSubscribed(s.ctx, s.user, f.ID, on))
}

func (s *session) Status(name string, o *imap.StatusOptions) (*imap.StatusData, error) {
	defer s.observe("STATUS", time.Now())
	t, err := s.resolve(name)
	if err != nil {
		return nil, err
	}
	f, err := s.srv.st.GetFolder(s.ctx, t.mb.ID, t.folder)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	return s.statusData(name, f, o)
}

// statusData fills every item the client asked for (go-imap's encoder
// dereferences requested items, so none may be left nil).
func (s *session) statusData(name string, f *store.Folder, o *imap.StatusOptions) (*imap.StatusData, error) {
	d := &imap.StatusData{Mailbox: name, UIDNext: imap.UID(f.UIDNext), UIDValidity: f.UIDValidity}
	u32 := func(v uint32) *uint32 { return &v }
	i64 := func(v int64) *int64 { return &v }
	if o.NumMessages {
		d.NumMessages = u32(f.Messages)
	}
	if o.NumRecent {
		n, err := s.statusRecent(f.ID, f.RecentUID, f.UIDNext)
		if err != nil {
			return nil, mapStoreErr(err)
		}
		d.NumRecent = u32(n)
	}
	if o.NumUnseen {
		viewer, err := s.srv.st.SeenViewer(s.ctx, f.ID, s.user)
		if err != nil {
			return nil, mapStoreErr(err)
		}
		n, err := s.srv.st.UnseenAs(s.ctx, f, viewer)
		if err != nil {
			return nil, mapStoreErr(err)
		}
		d.NumUnseen = u32(n)
	}
	if o.Size {
		d.Size = i64(f.Size)
	}
	if o.AppendLimit {
		d.AppendLimit = u32(uint32(s.srv.maxBytes))
	}
	if o.DeletedStorage {
		d.DeletedStorage = i64(0)
	}
	if o.HighestModSeq {
		d.HighestModSeq = max(f.HighestModSeq, 1)
	}
	if o.NumDeleted {
		flags, err := s.srv.st.FolderFlags(s.ctx, f.ID)
		if err != nil {
			return nil, mapStoreErr(err)
		}
		var n uint32
		for _, fl := range flags {
			if hasFlag(fl.Flags, `\Deleted`) {
				n++
			}
		}
		d.NumDeleted = u32(n)
	}
	return d, nil
}

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if strings.EqualFold(x, f) {
			return true
		}
	}
	return false
}

// AppendLimit advertises APPENDLIMIT=limits.max_message_bytes; go-imap
// refuses larger literals before reading them.
func (s *session) AppendLimit() uint32 { return uint32(s.srv.maxBytes) }

// sentCopyWindow is how far back an APPEND to a Sent folder looks for the
// copy submission already stored.
const sentCopyWindow = time.Hour

// submittedCopy reports the UID of the copy submission already stored in
// Sent folder f for the message being appended (same Message-ID, within
// sentCopyWindow). Mail sent as a shared address is kept in its Sent
// folder by the server (SPEC §6), and a client logged in as that mailbox
// (delegate login, Outlook, phones) then APPENDs its own copy there too:
// answering with the existing UID keeps one copy, as Gmail does.
func (s *session) submittedCopy(f *store.Folder, env *store.Envelope) (uint32, bool) {
	if f.SpecialUse != `\Sent` || env == nil || env.MessageID == "" {
		return 0, false
	}
	st := s.srv.st
	uid, ok, err := st.RecentSubmittedCopy(s.ctx, f.ID, env.MessageID, st.Now().Add(-sentCopyWindow))
	if err != nil || !ok {
		return 0, false // on doubt, store the APPEND: a duplicate beats a loss
	}
	s.log.Debug("APPEND to Sent matches the copy submission stored", "user", s.user, "folder", f.Name, "uid", uid)
	return uid, true
}

func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if s.sel == nil {
		return nil
	}
	if err := s.checkFolderState(); err != nil {
		return err
	}
	if ended, err := s.endIfRevoked(); ended || err != nil {
		return err
	}
	defer s.batch()()
	if err := s.sel.t.Poll(w, allowExpunge); err != nil {
		return err
	}
	return mapStoreErr(s.pollRecent(w))
}

func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if s.sel == nil {
		<-stop
		return nil
	}
	// Take the change channel before polling: an event after this point
	// closes it, and anything before is already queued for Poll.
	timeout := time.NewTimer(IdleTimeout)
	defer timeout.Stop()
	var rightsChanged <-chan struct{} // stays nil for one's own folders
	if s.sel.checkACL {
		ch, stopWatch := s.srv.acls.watch(s.sel.mb.ID)
		defer stopWatch()
		rightsChanged = ch
	}
	for {
		ch := s.sel.fs.changes()
		if err := s.Poll(w, true); err != nil {
			return err
		}
		if s.sel == nil {
			<-stop // a revoke ended the selection (revoke.go)
			return nil
		}
		select {
		case <-ch:
		case <-rightsChanged:
		case <-stop:
			return nil
		case <-timeout.C:
			// Closing the connection ends go-imap's wait for DONE.
			return s.conn.Bye("Idle timeout, please reconnect")
		}
	}
}

// headBuffer keeps the first 64 KiB written to it (the header, for
// ParseEnvelope) and drops the rest.
type headBuffer struct{ b []byte }

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
