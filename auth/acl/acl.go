// Package acl is the rights model of shared mailboxes (SPEC §5): the four
// rights an owner grants a member, their text and IMAP (RFC 4314) forms, and
// which protocol operations each right allows.
//
// It is pure functions with no I/O so that every listener (IMAP, SMTP
// submission, the admin CLI) asks the same question the same way: the
// session reads the member's Rights from store/ on each command and calls
// Allows. Owners are not special here: the caller passes All for an owner.
package acl

import (
	"errors"
	"fmt"
	"strings"
)

// Rights is a set of rights a member holds on a shared mailbox.
type Rights uint8

// The rights of SPEC §5. The zero value is no rights.
const (
	// Read: see the mailbox and its folders, read messages, set \Seen.
	Read Rights = 1 << iota
	// Manage: Read plus flag, move, delete, expunge, append and
	// create/rename/delete folders.
	Manage
	// Send: send mail with From: the shared address (send-as).
	Send
	// SendOnBehalf: send with From: the shared address and Sender: the member.
	SendOnBehalf

	// All is every right; an owner has All.
	All = Read | Manage | Send | SendOnBehalf
)

// names are the rights' text forms in canonical order (the order of the
// SPEC §5 table and of `shared grant --rights`).
var names = [...]struct {
	r    Rights
	name string
}{
	{Read, "read"},
	{Manage, "manage"},
	{Send, "send"},
	{SendOnBehalf, "send-on-behalf"},
}

// Parse reads a comma-separated list such as "read,manage" or
// "Send, send-on-behalf". Words are trimmed and case-insensitive; duplicates
// are harmless. Unknown words and an empty list are errors.
func Parse(s string) (Rights, error) {
	if strings.TrimSpace(s) == "" {
		return 0, errors.New("acl: empty rights list (want some of read, manage, send, send-on-behalf)")
	}
	var r Rights
	for _, w := range strings.Split(s, ",") {
		w = strings.ToLower(strings.TrimSpace(w))
		if w == "" {
			return 0, fmt.Errorf("acl: empty right in %q", s)
		}
		found := false
		for _, n := range names {
			if n.name == w {
				r |= n.r
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("acl: unknown right %q (want read, manage, send or send-on-behalf)", w)
		}
	}
	return r, nil
}

// String returns the rights as Parse reads them, in canonical order
// ("read,manage,send,send-on-behalf"); "" for no rights. Bits outside All
// are ignored.
func (r Rights) String() string {
	var parts []string
	for _, n := range names {
		if r&n.r != 0 {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, ",")
}

// Has reports whether r includes every right in want (after Effective).
func (r Rights) Has(want Rights) bool { return Effective(r)&want == want }

// Effective returns r with implied rights added: manage implies read
// (SPEC §5: "manage | read + ..."). Bits outside All are dropped.
func Effective(r Rights) Rights {
	r &= All
	if r&Manage != 0 {
		r |= Read
	}
	return r
}

// IMAPLetters returns the RFC 4314 rights string for MYRIGHTS/GETACL:
// read → "lrs"; manage → "lrswiktecx" (the letters of the SPEC §5 table:
// lookup, read, seen, write flags, insert, create, delete-message, expunge,
// plus the RFC 2086 "c" for old clients, and x delete-mailbox). Send rights
// have no IMAP letter. Rights never includes "a" (administer): ACLs change
// only through the admin CLI.
func IMAPLetters(r Rights) string {
	r = Effective(r)
	switch {
	case r&Manage != 0:
		return "lrswiktecx"
	case r&Read != 0:
		return "lrs"
	}
	return ""
}
