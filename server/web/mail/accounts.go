package mail

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// account is one mailbox the session may read, with the rights read for
// this request.
type account struct {
	mb     *store.Mailbox
	rights acl.Rights
}

// shared reports whether the account is a shared mailbox.
func (a account) shared() bool { return a.mb.Kind == store.MailboxShared }

// allows reports whether the member may do op in this account.
func (a account) allows(op acl.Op) bool { return acl.Allows(a.rights, op) }

// rightsOn reads user's rights on mb now. A shared mailbox logged in
// with its own password (SPEC §6.3) has every right on itself.
func (m *Mail) rightsOn(ctx context.Context, mb *store.Mailbox, user string) (acl.Rights, error) {
	if strings.EqualFold(mb.Address, user) {
		return acl.All, nil
	}
	return m.st.RightsOf(ctx, mb.ID, user)
}

// accountsOf lists the session's accounts: the mailbox it logged in to
// first, then every shared mailbox the user may read.
func (m *Mail) accountsOf(q *request) ([]account, error) {
	var out []account
	root, err := m.st.MailboxByAddress(q.r.Context(), q.sess.Mailbox)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if root != nil && root.Deleted == nil {
		r, err := m.rightsOn(q.r.Context(), root, q.sess.User)
		if err != nil {
			return nil, err
		}
		if acl.Allows(r, acl.OpRead) {
			out = append(out, account{mb: root, rights: r})
		}
	}
	shared, err := m.st.SharedFor(q.r.Context(), q.sess.User)
	if err != nil {
		return nil, err
	}
	for _, s := range shared {
		if slices.ContainsFunc(out, func(a account) bool { return a.mb.ID == s.Mailbox.ID }) {
			continue
		}
		mb := s.Mailbox
		out = append(out, account{mb: &mb, rights: s.Rights})
	}
	return out, nil
}

// account resolves the {account} of the request and checks op on it.
// An account the user may not read is "not found", as IMAP does not
// reveal mailboxes one cannot see.
func (m *Mail) account(q *request, op acl.Op) (account, error) {
	addr := strings.ToLower(strings.TrimSpace(q.r.PathValue("account")))
	mb, err := m.st.MailboxByAddress(q.r.Context(), addr)
	if errors.Is(err, store.ErrNotFound) || err == nil && mb.Deleted != nil {
		return account{}, errorf(http.StatusNotFound, "there is no mailbox "+addr+" that you may read")
	}
	if err != nil {
		return account{}, err
	}
	if mb.ID != m.rootID(q) && mb.Kind != store.MailboxShared {
		return account{}, errorf(http.StatusNotFound, "there is no mailbox "+addr+" that you may read")
	}
	r, err := m.rightsOn(q.r.Context(), mb, q.sess.User)
	if err != nil {
		return account{}, err
	}
	a := account{mb: mb, rights: r}
	if !a.allows(acl.OpRead) {
		return account{}, errorf(http.StatusNotFound, "there is no mailbox "+addr+" that you may read")
	}
	if !a.allows(op) {
		return account{}, errorf(http.StatusForbidden, "you need the "+acl.Required(op).String()+" right on "+mb.Address+" to do this")
	}
	return a, nil
}

// rootID is the id of the mailbox the session logged in to (0 if gone).
func (m *Mail) rootID(q *request) uint64 {
	mb, err := m.st.MailboxByAddress(q.r.Context(), q.sess.Mailbox)
	if err != nil {
		return 0
	}
	return mb.ID
}

// folder resolves the request's ?folder= (default INBOX) in a.
func (m *Mail) folder(ctx context.Context, a account, name string) (*store.Folder, error) {
	if name == "" {
		name = "INBOX"
	}
	f, err := m.st.GetFolder(ctx, a.mb.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, "there is no folder "+name+" in "+a.mb.Address)
	}
	return f, err
}

// Rights is an account's rights as the pages read them.
type Rights struct {
	Read         bool `json:"read"`
	Manage       bool `json:"manage"`
	Send         bool `json:"send"`
	SendOnBehalf bool `json:"send_on_behalf"`
}

func rightsJSON(r acl.Rights) Rights {
	return Rights{Read: acl.Allows(r, acl.OpRead), Manage: acl.Allows(r, acl.OpWrite),
		Send: acl.Allows(r, acl.OpSendAs), SendOnBehalf: acl.Allows(r, acl.OpSendOnBehalf)}
}

// Account is one entry of GET /api/mail/accounts.
type Account struct {
	Address string `json:"address"`
	Name    string `json:"name,omitempty"`
	Shared  bool   `json:"shared"`
	Unread  uint32 `json:"unread"`
	Rights  Rights `json:"rights"`
}

func (m *Mail) apiAccounts(q *request) (any, error) {
	accts, err := m.accountsOf(q)
	if err != nil {
		return nil, err
	}
	out := []Account{}
	for _, a := range accts {
		unread := uint32(0)
		if f, err := m.st.GetFolder(q.r.Context(), a.mb.ID, "INBOX"); err == nil {
			unread = m.unseen(q, f)
		}
		out = append(out, Account{Address: a.mb.Address, Name: a.mb.Name, Shared: a.shared(), Unread: unread, Rights: rightsJSON(a.rights)})
	}
	return out, nil
}

// FolderInfo is one entry of GET /api/mail/{account}/folders.
type FolderInfo struct {
	Name       string `json:"name"`
	SpecialUse string `json:"special_use,omitempty"`
	Messages   uint32 `json:"messages"`
	Unread     uint32 `json:"unread"`
}

// specialOrder ranks INBOX and the special-use folders first.
var specialOrder = []string{"INBOX", `\Drafts`, `\Sent`, `\Junk`, `\Trash`, `\Archive`}

func folderRank(f store.Folder) int {
	key := f.SpecialUse
	if f.Name == "INBOX" {
		key = "INBOX"
	}
	if i := slices.Index(specialOrder, key); i >= 0 && key != "" {
		return i
	}
	return len(specialOrder)
}

func (m *Mail) apiFolders(q *request) (any, error) {
	a, err := m.account(q, acl.OpRead)
	if err != nil {
		return nil, err
	}
	fs, err := m.st.Folders(q.r.Context(), a.mb.ID)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(fs, func(x, y store.Folder) int { return folderRank(x) - folderRank(y) })
	out := []FolderInfo{}
	for _, f := range fs {
		out = append(out, FolderInfo{Name: f.Name, SpecialUse: f.SpecialUse, Messages: f.Messages, Unread: m.unseen(q, &f)})
	}
	return out, nil
}

// specialFolder finds a's folder with this special use (`\Trash`), or
// the folder of that conventional name.
func (m *Mail) specialFolder(ctx context.Context, a account, use, name string) (*store.Folder, error) {
	fs, err := m.st.Folders(ctx, a.mb.ID)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if f.SpecialUse == use {
			return &f, nil
		}
	}
	for _, f := range fs {
		if strings.EqualFold(f.Name, name) {
			return &f, nil
		}
	}
	return nil, errorf(http.StatusConflict, a.mb.Address+" has no "+name+" folder")
}

// viewer is the member whose own \Seen the user sees in folder f ("" =
// the shared \Seen; store/seen_member.go).
func (m *Mail) viewer(q *request, f *store.Folder) string {
	v, err := m.st.SeenViewer(q.r.Context(), f.ID, q.sess.User)
	if err != nil {
		q.log.Warn("reading the \\Seen mode", "folder", f.ID, "err", err)
	}
	return v
}

// unseen is f's unread count as the user sees it.
func (m *Mail) unseen(q *request, f *store.Folder) uint32 {
	n, err := m.st.UnseenAs(q.r.Context(), f, m.viewer(q, f))
	if err != nil {
		q.log.Warn("counting unread messages", "folder", f.ID, "err", err)
		return f.Unseen
	}
	return n
}
