// mailsrv patch: whole file. The ACL commands (RFC 4314: MYRIGHTS, GETACL,
// LISTRIGHTS, SETACL, DELETEACL) and LIST RETURN (MYRIGHTS) (RFC 8440).
// go-imap v2 (beta.8) has them on the client side only; the backend
// decides everything through SessionACL.
package imapserver

import (
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// aclRightsCap is the RIGHTS= capability (RFC 4314 §2.1): t, e, x and k
// are used instead of the RFC 2086 d and c.
const aclRightsCap = "texk"

// ACLEntry is one identifier of a GETACL answer and its rights.
type ACLEntry struct {
	Identifier imap.RightsIdentifier
	Rights     imap.RightSet
}

// SessionACL is implemented by a session that supports RFC 4314.
type SessionACL interface {
	MyRights(mailbox string) (imap.RightSet, error)
	GetACL(mailbox string) ([]ACLEntry, error)
	// ListRights returns the rights always granted to id and the groups
	// of rights that may be granted on top of them (RFC 4314 §3.7).
	ListRights(mailbox string, id imap.RightsIdentifier) (required imap.RightSet, optional []imap.RightSet, err error)
	SetACL(mailbox string, id imap.RightsIdentifier, mod imap.RightModification, rights imap.RightSet) error
	DeleteACL(mailbox string, id imap.RightsIdentifier) error
}

func (c *Conn) handleACL(name string, dec *imapwire.Decoder) error {
	var mailbox, id, rights string
	if !dec.ExpectSP() || !dec.ExpectMailbox(&mailbox) {
		return dec.Err()
	}
	switch name {
	case "LISTRIGHTS", "DELETEACL":
		if !dec.ExpectSP() || !dec.ExpectAString(&id) {
			return dec.Err()
		}
	case "SETACL":
		if !dec.ExpectSP() || !dec.ExpectAString(&id) || !dec.ExpectSP() || !dec.ExpectAString(&rights) {
			return dec.Err()
		}
	}
	if !dec.ExpectCRLF() {
		return dec.Err()
	}
	if err := c.checkState(imap.ConnStateAuthenticated); err != nil {
		return err
	}
	session, ok := c.session.(SessionACL)
	if !ok {
		return newClientBugError(name + " is not supported")
	}
	switch name {
	case "MYRIGHTS":
		rs, err := session.MyRights(mailbox)
		if err != nil {
			return err
		}
		return c.writeMyRights(mailbox, rs)
	case "GETACL":
		entries, err := session.GetACL(mailbox)
		if err != nil {
			return err
		}
		enc := newResponseEncoder(c)
		defer enc.end()
		enc.Atom("*").SP().Atom("ACL").SP().Mailbox(mailbox)
		for _, e := range entries {
			enc.SP().String(string(e.Identifier)).SP()
			rightsAtom(enc.Encoder, e.Rights)
		}
		return enc.CRLF()
	case "LISTRIGHTS":
		req, opt, err := session.ListRights(mailbox, imap.RightsIdentifier(id))
		if err != nil {
			return err
		}
		enc := newResponseEncoder(c)
		defer enc.end()
		enc.Atom("*").SP().Atom("LISTRIGHTS").SP().Mailbox(mailbox).SP().String(id).SP()
		rightsAtom(enc.Encoder, req)
		for _, o := range opt {
			enc.SP()
			rightsAtom(enc.Encoder, o)
		}
		return enc.CRLF()
	case "SETACL":
		mod := imap.RightModificationReplace
		if strings.HasPrefix(rights, "+") {
			mod, rights = imap.RightModificationAdd, rights[1:]
		} else if strings.HasPrefix(rights, "-") {
			mod, rights = imap.RightModificationRemove, rights[1:]
		}
		for _, r := range rights {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
				return newClientBugError("SETACL: rights are lower-case letters or digits (RFC 4314 §2)")
			}
		}
		return session.SetACL(mailbox, imap.RightsIdentifier(id), mod, imap.RightSet(rights))
	case "DELETEACL":
		return session.DeleteACL(mailbox, imap.RightsIdentifier(id))
	}
	return nil
}

func (c *Conn) writeMyRights(mailbox string, rs imap.RightSet) error {
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("MYRIGHTS").SP().Mailbox(mailbox).SP()
	rightsAtom(enc.Encoder, rs)
	return enc.CRLF()
}

// writeMyRights follows a LIST answer with its MYRIGHTS line when the
// client asked for RETURN (MYRIGHTS) and the backend set them (RFC 8440).
func (w *ListWriter) writeMyRights(data *imap.ListData) error {
	if !w.options.ReturnMyRights || data.MyRights == nil {
		return nil
	}
	return w.conn.writeMyRights(data.Mailbox, data.MyRights)
}

// rightsAtom writes a rights string as an atom ("" when empty): the
// letters are atom characters, and clients expect them bare.
func rightsAtom(enc *imapwire.Encoder, rs imap.RightSet) {
	if len(rs) == 0 {
		enc.Quoted("")
		return
	}
	enc.Atom(string(rs))
}
