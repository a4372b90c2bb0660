package imapd

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// RFC 4314 over the rights model of SPEC §5. Rights belong to a whole
// shared mailbox, not to one folder: MYRIGHTS/GETACL of any of its folders
// show the same letters, and SETACL/DELETEACL on any of them change the
// member's grant exactly as `mailsrv shared grant/revoke` does (the same
// store.Grant/store.Revoke: member limit, audit entry, ACL event that
// ends a revoked member's open sessions at their next command).
//
// Letters: read is "lrs", manage "lrswiktecx" (auth/acl.IMAPLetters),
// and "a" (administer) is shown to whoever may change the ACL: the owner of
// a shared mailbox, an admin with role postmaster or shared-mailboxes, and
// the owner of a personal mailbox (whose only entry is the owner; personal
// folders are not shared, so SETACL there answers NO [CANNOT]).

// aclManageLetters are the letters whose grant means read,manage (SPEC §5;
// d and c are RFC 2086's names, p is accepted as a manage-level right).
const aclManageLetters = "wiptekxcd"

// aclTarget is the mailbox an ACL command names.
type aclTarget struct {
	mb     *store.Mailbox
	rights acl.Rights // the session user's rights
	admin  bool       // the user may SETACL/DELETEACL (or owns a personal mailbox)
}

func (t *aclTarget) letters() imap.RightSet {
	l := acl.IMAPLetters(t.rights)
	if t.admin {
		l += "a"
	}
	return imap.RightSet(l)
}

// aclResolve maps a mailbox name to its mailbox. Besides folder names it
// accepts "Shared/<address>" (the shared mailbox's own node); an admin
// with a shared-mailbox role may name any shared mailbox there, even one
// they cannot read.
func (s *session) aclResolve(name string) (*aclTarget, error) {
	name = canonicalName(name)
	if s.root.Kind == store.MailboxPersonal && s.rootAll && strings.HasPrefix(name, sharedPrefix) {
		addr, _, _ := strings.Cut(name[len(sharedPrefix):], "/")
		addr, err := store.NormalizeAddress(addr)
		if err != nil {
			return nil, errNoSuchMailbox
		}
		mb, err := s.srv.st.MailboxByAddress(s.ctx, addr)
		if err != nil || mb.Kind != store.MailboxShared || mb.Deleted != nil {
			return nil, errNoSuchMailbox
		}
		r, err := s.srv.st.RightsOf(s.ctx, mb.ID, s.user)
		if err != nil {
			return nil, err
		}
		admin, err := s.mayAdminister(mb)
		if err != nil {
			return nil, err
		}
		if !acl.Allows(r, acl.OpList) && !admin {
			return nil, errNoSuchMailbox
		}
		return &aclTarget{mb: mb, rights: r, admin: admin}, nil
	}
	t, err := s.resolve(name)
	if err != nil {
		return nil, err
	}
	if _, err := s.srv.st.GetFolder(s.ctx, t.mb.ID, t.folder); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errNoSuchMailbox
		}
		return nil, err
	}
	admin := t.mb.Kind == store.MailboxPersonal && s.rootAll
	if t.mb.Kind == store.MailboxShared {
		if admin, err = s.mayAdminister(t.mb); err != nil {
			return nil, err
		}
	}
	return &aclTarget{mb: t.mb, rights: t.rights, admin: admin}, nil
}

// mayAdminister reports whether the session user may change the ACL of
// shared mailbox mb: its owner, or an admin with role postmaster or
// shared-mailboxes (read from the store now, like every right).
func (s *session) mayAdminister(mb *store.Mailbox) (bool, error) {
	if mb.Kind != store.MailboxShared {
		return false, nil
	}
	if mb.Owner != "" && mb.Owner == s.user {
		return true, nil
	}
	roles, err := s.srv.st.RolesOf(s.ctx, s.user)
	if err != nil {
		return false, err
	}
	for _, r := range roles {
		if r == store.RolePostmaster || r == store.RoleSharedMailboxes {
			return true, nil
		}
	}
	return false, nil
}

func (s *session) MyRights(mailbox string) (imap.RightSet, error) {
	t, err := s.aclResolve(mailbox)
	if err != nil {
		return nil, err
	}
	return t.letters(), nil
}

func (s *session) GetACL(mailbox string) ([]imapserver.ACLEntry, error) {
	t, err := s.aclResolve(mailbox)
	if err != nil {
		return nil, err
	}
	if !t.admin {
		return nil, noPerm("GETACL needs the administer right (a): ask the owner of " + t.mb.Address)
	}
	all := imap.RightSet(acl.IMAPLetters(acl.All) + "a")
	if t.mb.Kind == store.MailboxPersonal {
		return []imapserver.ACLEntry{{Identifier: imap.RightsIdentifier(t.mb.Address), Rights: all}}, nil
	}
	var out []imapserver.ACLEntry
	if t.mb.Owner != "" {
		out = append(out, imapserver.ACLEntry{Identifier: imap.RightsIdentifier(t.mb.Owner), Rights: all})
	}
	entries, err := s.srv.st.ACL(s.ctx, t.mb.ID)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if l := acl.IMAPLetters(e.Rights); l != "" {
			out = append(out, imapserver.ACLEntry{Identifier: imap.RightsIdentifier(e.Member), Rights: imap.RightSet(l)})
		}
	}
	return out, nil
}

func (s *session) ListRights(mailbox string, id imap.RightsIdentifier) (imap.RightSet, []imap.RightSet, error) {
	t, err := s.aclResolve(mailbox)
	if err != nil {
		return nil, nil, err
	}
	if !t.admin {
		return nil, nil, noPerm("LISTRIGHTS needs the administer right (a): ask the owner of " + t.mb.Address)
	}
	who, _ := store.NormalizeAddress(string(id))
	if who != "" && (who == t.mb.Owner || t.mb.Kind == store.MailboxPersonal && who == t.mb.Address) {
		return imap.RightSet(acl.IMAPLetters(acl.All) + "a"), nil, nil
	}
	if t.mb.Kind == store.MailboxPersonal {
		return imap.RightSet(""), nil, nil // personal folders are not shared
	}
	// Read's letters come together, and so do the rest (manage).
	return imap.RightSet(""), []imap.RightSet{imap.RightSet("lrs"), imap.RightSet(strings.Trim(acl.IMAPLetters(acl.Manage), "lrs"))}, nil
}

// aclMember checks an identifier of SETACL/DELETEACL: a local address;
// "anyone" and negative rights ("-name") have no meaning here.
func aclMember(id imap.RightsIdentifier) (string, error) {
	if id == imap.RightsIdentifierAnyone || strings.HasPrefix(string(id), "-") {
		return "", &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
			Text: "Only members (local addresses) can be given rights; \"anyone\" and negative rights are not supported"}
	}
	m, err := store.NormalizeAddress(string(id))
	if err != nil {
		return "", &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Not an address: " + err.Error()}
	}
	return m, nil
}

// aclWritable checks that t's ACL may be changed by the session user.
func (s *session) aclWritable(t *aclTarget) error {
	if t.mb.Kind != store.MailboxShared {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
			Text: "Personal folders are not shared; create a shared mailbox (mailsrv shared create) and grant members there"}
	}
	if !t.admin {
		return noPerm("only the owner of " + t.mb.Address + " or an admin may change its members")
	}
	return nil
}

func (s *session) SetACL(mailbox string, id imap.RightsIdentifier, mod imap.RightModification, rights imap.RightSet) error {
	t, err := s.aclResolve(mailbox)
	if err != nil {
		return err
	}
	if err := s.aclWritable(t); err != nil {
		return err
	}
	member, err := aclMember(id)
	if err != nil {
		return err
	}
	if member == t.mb.Owner {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
			Text: member + " owns " + t.mb.Address + " and keeps every right; reassign the mailbox to change that"}
	}
	current := acl.Rights(0)
	entries, err := s.srv.st.ACL(s.ctx, t.mb.ID)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Member == member {
			current = e.Rights
		}
	}
	letters := imap.RightSet(acl.IMAPLetters(current))
	switch mod {
	case imap.RightModificationAdd:
		letters = letters.Add(rights)
	case imap.RightModificationRemove:
		letters = letters.Remove(rights)
	default:
		letters = rights
	}
	if strings.ContainsRune(string(letters), 'a') && mod != imap.RightModificationRemove {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
			Text: "The administer right (a) stays with the owner of " + t.mb.Address + " and admins"}
	}
	next := lettersToRights(string(letters))
	if next == 0 {
		if current == 0 {
			return nil // nothing granted, nothing to revoke
		}
		return s.aclErr(s.srv.st.Revoke(s.ctx, t.mb.ID, member, s.user))
	}
	next |= current & (acl.Send | acl.SendOnBehalf) // no letter: kept as they are
	if acl.Effective(next) == acl.Effective(current) {
		return nil
	}
	s.log.Info("setacl", "mailbox", t.mb.Address, "member", member, "rights", next.String())
	return s.aclErr(s.srv.st.Grant(s.ctx, t.mb.ID, member, next, s.srv.opts.Limits.SharedMailboxMembers, s.user))
}

func (s *session) DeleteACL(mailbox string, id imap.RightsIdentifier) error {
	t, err := s.aclResolve(mailbox)
	if err != nil {
		return err
	}
	if err := s.aclWritable(t); err != nil {
		return err
	}
	member, err := aclMember(id)
	if err != nil {
		return err
	}
	s.log.Info("deleteacl", "mailbox", t.mb.Address, "member", member)
	return s.aclErr(s.srv.st.Revoke(s.ctx, t.mb.ID, member, s.user))
}

// lettersToRights is SPEC §5's mapping of an RFC 4314 letter set.
func lettersToRights(letters string) acl.Rights {
	switch {
	case strings.ContainsAny(letters, aclManageLetters):
		return acl.Read | acl.Manage
	case strings.ContainsAny(letters, "lrs"):
		return acl.Read
	}
	return 0
}

// aclErr turns a refusal of store.Grant/Revoke (owner, unknown member,
// member limit) into a NO with the store's sentence.
func (s *session) aclErr(err error) error {
	if err == nil {
		return nil
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		return err
	}
	code := imap.ResponseCodeCannot
	if errors.Is(err, store.ErrNotFound) {
		code = imap.ResponseCodeNonExistent
	}
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: code, Text: fmt.Sprint(err)}
}

// listMyRights is the MYRIGHTS of one LIST entry (RFC 8440), read once per
// mailbox for the whole LIST.
func (s *session) listMyRights(name string, cache map[uint64]imap.RightSet) imap.RightSet {
	if name+"/" == sharedPrefix {
		return nil // the namespace node belongs to no mailbox
	}
	t, err := s.resolve(name)
	if err != nil {
		return nil
	}
	if r, ok := cache[t.mb.ID]; ok {
		return r
	}
	admin := t.mb.Kind == store.MailboxPersonal && s.rootAll
	if t.mb.Kind == store.MailboxShared {
		admin, _ = s.mayAdminister(t.mb)
	}
	r := (&aclTarget{mb: t.mb, rights: t.rights, admin: admin}).letters()
	cache[t.mb.ID] = r
	return r
}
