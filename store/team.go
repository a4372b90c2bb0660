package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"mailsrv/auth/acl"
)

// Team keywords (SPEC §6): work on a shared mailbox is visible in every
// IMAP client as keywords. "$Assigned:<member>" names the one member a
// message is assigned to, "$Done" marks it finished. The store checks
// every change of them inside the transaction that makes it (so two
// sessions racing cannot both assign), whoever asks: IMAP STORE, APPEND,
// COPY/MOVE into the mailbox, or the admin operations.
const (
	AssignedPrefix = "$Assigned:"
	FlagDone       = "$Done"
	FlagAnswered   = `\Answered`
)

// AssignedKeyword is the keyword that assigns a message to member.
func AssignedKeyword(member string) string { return AssignedPrefix + member }

// Assignee returns the member a message with these flags is assigned to
// ("" = nobody; the first one should a message carry more).
func Assignee(flags []string) string {
	if a := assignees(flags); len(a) > 0 {
		return a[0]
	}
	return ""
}

// assignees lists the addresses of the $Assigned: keywords among flags.
func assignees(flags []string) []string {
	var out []string
	for _, f := range flags {
		if len(f) > len(AssignedPrefix) && strings.EqualFold(f[:len(AssignedPrefix)], AssignedPrefix) {
			out = append(out, f[len(AssignedPrefix):])
		}
	}
	return out
}

// canonicalTeamFlags writes the team keywords in one spelling
// ("$assigned:Bob@Example.COM" becomes "$Assigned:bob@example.com"), so
// that a queue filter, a removal and the one-assignee rule all see the
// same keyword whatever case a client used. Other flags are untouched;
// an unparsable address is left for checkTeam to refuse.
func canonicalTeamFlags(flags []string) []string {
	var out []string
	for i, f := range flags {
		c := f
		if a := assignees([]string{f}); len(a) == 1 {
			if n, err := NormalizeAddress(a[0]); err == nil {
				c = AssignedKeyword(n)
			}
		} else if strings.EqualFold(f, FlagDone) {
			c = FlagDone
		}
		if c != f && out == nil {
			out = slices.Clone(flags)
		}
		if out != nil {
			out[i] = c
		}
	}
	if out == nil {
		return flags
	}
	return out
}

// teamRules checks and audits the team keywords of one shared mailbox
// during one transaction.
type teamRules struct {
	t      *Tx
	f      *Folder
	mb     *Mailbox
	actor  string
	byUser bool // actor is a member whose rights must allow the change
}

// teamRulesFor returns the rules for changes in folder f, or nil when f
// is not in a shared mailbox (personal mailboxes have no team keywords).
// checkActor says whether actor is a member whose own rights apply (IMAP)
// rather than an administrator already authorised by role.
func (t *Tx) teamRulesFor(f *Folder, actor string, checkActor bool) *teamRules {
	mb, err := getMailboxTx(t.tx, f.MailboxID)
	if err != nil || mb.Kind != MailboxShared {
		return nil
	}
	return &teamRules{t: t, f: f, mb: mb, actor: actor, byUser: checkActor && actor != ""}
}

// check refuses a change of message uid's flags from old to next that
// breaks the team rules, and audits assignment and completion. uid 0
// means a message being added (APPEND, COPY): it is checked, and its
// caller audits it under its UID once known.
func (r *teamRules) check(uid uint32, old, next []string) error {
	if r == nil {
		return nil
	}
	was, now := assignees(old), assignees(next)
	assignChanged := !slices.Equal(was, now)
	if assignChanged {
		if r.byUser {
			rights, err := rightsTx(r.t.tx, r.mb.ID, r.actor)
			if err != nil {
				return err
			}
			if !rights.Has(acl.Manage) {
				return errorf(ErrInvalid, "assigning messages of %s needs the manage right", r.mb.Address)
			}
		}
		if len(now) > 1 {
			return errorf(ErrInvalid, "a message has at most one assignee: remove %s first (STORE -FLAGS) or replace all flags (STORE FLAGS)", AssignedKeyword(was0(was, now)))
		}
		for _, a := range now {
			if slices.Contains(was, a) {
				continue
			}
			if err := r.checkAssignee(a); err != nil {
				return err
			}
		}
	}
	if uid == 0 {
		return nil
	}
	for _, a := range was {
		if !slices.Contains(now, a) {
			r.audit(uid, "unassign", a)
		}
	}
	for _, a := range now {
		if !slices.Contains(was, a) {
			r.audit(uid, "assign", a)
		}
	}
	wasDone, isDone := slices.Contains(old, FlagDone), slices.Contains(next, FlagDone)
	if !wasDone && isDone {
		r.audit(uid, "done", "")
	} else if wasDone && !isDone {
		r.audit(uid, "undone", "")
	}
	return nil
}

// was0 names the assignee to remove in the one-assignee error: the one
// the message had, or else the first of the new ones.
func was0(was, now []string) string {
	if len(was) > 0 {
		return was[0]
	}
	return now[0]
}

// checkAssignee refuses an assignee who is not a local user able to read
// the shared mailbox.
func (r *teamRules) checkAssignee(a string) error {
	n, err := NormalizeAddress(a)
	if err != nil {
		return errorf(ErrInvalid, "%s%s: not an address: assign to a member like %sbob@example.com", AssignedPrefix, a, AssignedPrefix)
	}
	if bucket(r.t.tx, "accounts").Get([]byte(n)) != nil {
		rights, err := rightsTx(r.t.tx, r.mb.ID, n)
		if err != nil {
			return err
		}
		if rights.Has(acl.Read) {
			return nil
		}
	}
	return errorf(ErrInvalid, "%s is not a member of %s who can read it: assign to a member (see `mailsrv shared show %s`)", n, r.mb.Address, r.mb.Address)
}

// audit writes one assignment or completion entry for message uid.
func (r *teamRules) audit(uid uint32, action, detail string) {
	actor := r.actor
	if actor == "" {
		actor = "system"
	}
	e := AuditEntry{Actor: actor, Action: action, Folder: r.f.Name, UID: uid, Detail: detail}
	var m Message
	if fm := bucket(r.t.tx, "msgs").Bucket(u64(r.f.ID)); fm != nil {
		if ok, _ := getJSON(fm.Bucket(bktRecords), u32(uid), &m); ok {
			e.MessageID = messageID(&m)
		}
	}
	r.t.Audit(r.f.MailboxID, e)
}

// autoSubmitted reports an Auto-Submitted field other than "no" (RFC
// 3834): an automatic reply answers nothing for the team.
func autoSubmitted(mh mail.Header) bool {
	v := strings.ToLower(strings.TrimSpace(mh.Get("Auto-Submitted")))
	return v != "" && !strings.HasPrefix(v, "no")
}

// referencedIDs returns the Message-IDs (with brackets) that the header
// at the start of head names in In-Reply-To and References; none for an
// automatic reply.
func referencedIDs(head []byte) []string {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(head)))
	if err != nil && h.Len() == 0 {
		return nil
	}
	mh := mail.Header{Header: message(h)}
	if autoSubmitted(mh) {
		return nil
	}
	var out []string
	for _, key := range []string{"In-Reply-To", "References"} {
		ids, err := mh.MsgIDList(key)
		if err != nil {
			continue
		}
		for _, id := range ids {
			if id = "<" + id + ">"; !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// markAnswered sets \Answered on the INBOX messages of shared mailbox
// mbid whose Message-ID is among ids: a reply stored in the shared Sent
// answers the original for the whole team, whichever client sent it.
// It runs in the delivery's transaction and publishes a flags event so
// open sessions see the FETCH.
//
// INBOX is scanned newest first; a record is decoded only when its raw
// JSON contains one of the ids, so the cost is one pass over the
// records' bytes per reply sent.
func (t *Tx) markAnswered(mbid uint64, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	inbox, err := getFolderTx(t.tx, mbid, "INBOX")
	if err != nil {
		return nil // no INBOX: nothing to answer
	}
	fm := bucket(t.tx, "msgs").Bucket(u64(inbox.ID))
	if fm == nil {
		return nil
	}
	var needles [][]byte
	for _, id := range ids {
		inner := strings.Trim(id, "<>")
		if inner == "" || strings.ContainsAny(inner, `"\<>&`) {
			needles = nil // JSON would escape it: decode every record
			break
		}
		needles = append(needles, []byte(inner))
	}
	fb := fm.Bucket(bktFlags)
	var uids []uint32
	c := fm.Bucket(bktRecords).Cursor()
	for k, v := c.Last(); k != nil; k, v = c.Prev() {
		if needles != nil && !slices.ContainsFunc(needles, func(n []byte) bool { return bytes.Contains(v, n) }) {
			continue
		}
		var m Message
		if err := json.Unmarshal(v, &m); err != nil {
			continue
		}
		if id := messageID(&m); id != "" && slices.Contains(ids, id) {
			if !slices.Contains(splitFlags(fb.Get(k)), FlagAnswered) {
				uids = append(uids, getU32(k))
			}
		}
	}
	if len(uids) == 0 {
		return nil
	}
	slices.Sort(uids)
	_, err = t.changeFlags(0, inbox.ID, uids, FlagsAdd, []string{FlagAnswered}, "", false)
	return err
}

// answerFromSent marks the originals \Answered when a message was just
// stored in the Sent folder f of a shared mailbox (SPEC §6: "answered" is
// true for the team, not per client).
func (t *Tx) answerFromSent(f *Folder, head []byte) error {
	if f.SpecialUse != `\Sent` {
		return nil
	}
	mb, err := getMailboxTx(t.tx, f.MailboxID)
	if err != nil || mb.Kind != MailboxShared {
		return nil
	}
	return t.markAnswered(f.MailboxID, referencedIDs(head))
}
