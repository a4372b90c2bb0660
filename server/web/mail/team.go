package mail

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"mailsrv/auth/acl"
	"mailsrv/server/admin"
	"mailsrv/store"
)

// Team views of a shared mailbox (SPEC §6, issue 22): assignment
// ($Assigned:<member>) and completion ($Done) are the same keywords IMAP
// clients set, changed through the same store call as IMAP STORE
// (store.StoreFlags with the member as actor), so the store's team rules
// (manage needed, one assignee, the assignee a member who can read)
// refuse a webmail request exactly as they refuse a STORE, with the same
// reason. The views filter the INBOX with admin.QueueEntries, the
// function behind `mailsrv shared queue`, so "Unanswered" here and
// `shared queue --unanswered` are one definition.
//
//	GET  /api/mail/{account}/team?view=mine|unassigned|done|unanswered
//	     {"view","total","messages":[TeamEntry]}, INBOX, oldest first.
//	GET  /api/mail/{account}/members   [{"address","name"}]: who can read
//	     (the assignees the pages offer).
//	POST /api/mail/{account}/assign {"folder","uids":[],"to":"bob@…"}
//	     ("to":"" unassigns): manage; 409 + the store's reason when the
//	     team rules refuse it.
//	POST /api/mail/{account}/done   {"folder","uids":[],"done":true|false}

// Team views.
const (
	ViewMine       = "mine"
	ViewUnassigned = "unassigned"
	ViewDone       = "done"
	ViewUnanswered = "unanswered"
)

// TeamEntry is one message of a team view: the list summary with its
// assignee, completion and age.
type TeamEntry struct {
	Summary
	MessageID  string `json:"message_id"`
	AgeSeconds int64  `json:"age_seconds"`
}

// TeamList is the answer of /team.
type TeamList struct {
	View     string      `json:"view"`
	Total    int         `json:"total"`
	Messages []TeamEntry `json:"messages"`
}

// Member is one possible assignee.
type Member struct {
	Address string `json:"address"`
	Name    string `json:"name,omitempty"`
}

type assignArgs struct {
	Folder string   `json:"folder"`
	UIDs   []uint32 `json:"uids"`
	To     string   `json:"to"`
}

type doneArgs struct {
	Folder string   `json:"folder"`
	UIDs   []uint32 `json:"uids"`
	Done   bool     `json:"done"`
}

// sharedAccount is account() for the team endpoints: only shared
// mailboxes have team keywords.
func (m *Mail) sharedAccount(q *request, op acl.Op) (account, error) {
	a, err := m.account(q, op)
	if err != nil {
		return a, err
	}
	if !a.shared() {
		return a, errorf(http.StatusBadRequest, a.mb.Address+" is a personal mailbox: assignment and the team views are for shared mailboxes")
	}
	return a, nil
}

func (m *Mail) apiTeam(q *request) (any, error) {
	a, err := m.sharedAccount(q, acl.OpRead)
	if err != nil {
		return nil, err
	}
	view := q.r.URL.Query().Get("view")
	var unassigned, unanswered bool
	assignedTo := ""
	switch view {
	case ViewMine:
		assignedTo = q.sess.User
	case ViewUnassigned:
		unassigned = true
	case ViewUnanswered:
		unanswered = true
	case ViewDone:
	default:
		return nil, errorf(http.StatusBadRequest, "view must be mine, unassigned, done or unanswered")
	}
	msgs, err := m.st.TeamInbox(q.r.Context(), a.mb.ID)
	if err != nil {
		return nil, err
	}
	now := m.st.Now()
	entries := admin.QueueEntries(msgs, now, unassigned, unanswered, assignedTo)
	byUID := make(map[uint32]*store.TeamMessage, len(msgs))
	for i := range msgs {
		byUID[msgs[i].UID] = &msgs[i]
	}
	out := TeamList{View: view, Messages: []TeamEntry{}}
	for _, e := range entries {
		if view == ViewDone && !e.Done {
			continue
		}
		tm := byUID[e.UID]
		s := Summary{UID: e.UID, Date: e.Received, From: e.From, Subject: e.Subject,
			Answered: e.Answered, Assignee: e.AssignedTo, Done: e.Done}
		if tm != nil {
			s.Seen, s.Flagged = hasFlag(tm.Flags, `\Seen`), hasFlag(tm.Flags, `\Flagged`)
		}
		out.Messages = append(out.Messages, TeamEntry{Summary: s, MessageID: e.MessageID, AgeSeconds: e.AgeSeconds})
	}
	out.Total = len(out.Messages)
	return out, nil
}

// members lists who can read shared mailbox mb: the owner and every
// delegate with read, with their names.
func (m *Mail) members(ctx context.Context, mb *store.Mailbox) ([]Member, error) {
	var addrs []string
	if mb.Owner != "" {
		addrs = append(addrs, mb.Owner)
	}
	entries, err := m.st.ACL(ctx, mb.ID)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Rights.Has(acl.Read) && !slices.Contains(addrs, e.Member) {
			addrs = append(addrs, e.Member)
		}
	}
	slices.Sort(addrs)
	out := []Member{}
	for _, ad := range addrs {
		mem := Member{Address: ad}
		if u, err := m.st.User(ctx, ad); err == nil {
			mem.Name = u.Name
		}
		out = append(out, mem)
	}
	return out, nil
}

func (m *Mail) apiMembers(q *request) (any, error) {
	a, err := m.sharedAccount(q, acl.OpRead)
	if err != nil {
		return nil, err
	}
	return m.members(q.r.Context(), a.mb)
}

// teamRefusal turns the store's refusal of a team keyword change into
// 409 with its reason (the same sentence IMAP's NO carries).
func teamRefusal(err error) error {
	if errors.Is(err, store.ErrInvalid) {
		return errorf(http.StatusConflict, err.Error())
	}
	return err
}

// apiAssign sets the one $Assigned: keyword of each message: the old
// assignee's keyword is removed, then the new one added, each a STORE as
// an IMAP client would send it (so the store checks and audits both).
func (m *Mail) apiAssign(q *request) (any, error) {
	var args assignArgs
	if err := readBody(q, &args); err != nil {
		return nil, err
	}
	if err := needUIDs(args.UIDs); err != nil {
		return nil, err
	}
	to := ""
	if strings.TrimSpace(args.To) != "" {
		n, err := store.NormalizeAddress(args.To)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, args.To+" is not an address: assign to a member like bob@example.com")
		}
		to = n
	}
	a, err := m.sharedAccount(q, acl.OpWrite)
	if err != nil {
		return nil, err
	}
	f, err := m.folder(q.r.Context(), a, args.Folder)
	if err != nil {
		return nil, err
	}
	msgs, err := m.st.Messages(q.r.Context(), f.ID, args.UIDs)
	if err != nil {
		return nil, err
	}
	for _, msg := range msgs {
		old := store.Assignee(msg.Flags)
		if old == to {
			continue
		}
		if old != "" {
			if _, err := m.st.StoreFlags(q.r.Context(), f.ID, []uint32{msg.UID}, store.FlagsRemove, []string{store.AssignedKeyword(old)}, q.sess.User); err != nil {
				return nil, teamRefusal(err)
			}
		}
		if to != "" {
			if _, err := m.st.StoreFlags(q.r.Context(), f.ID, []uint32{msg.UID}, store.FlagsAdd, []string{store.AssignedKeyword(to)}, q.sess.User); err != nil {
				return nil, teamRefusal(err)
			}
		}
	}
	return ok, nil
}

func (m *Mail) apiDone(q *request) (any, error) {
	var args doneArgs
	if err := readBody(q, &args); err != nil {
		return nil, err
	}
	if err := needUIDs(args.UIDs); err != nil {
		return nil, err
	}
	a, err := m.sharedAccount(q, acl.OpWrite)
	if err != nil {
		return nil, err
	}
	f, err := m.folder(q.r.Context(), a, args.Folder)
	if err != nil {
		return nil, err
	}
	op := store.FlagsRemove
	if args.Done {
		op = store.FlagsAdd
	}
	if _, err := m.st.StoreFlags(q.r.Context(), f.ID, args.UIDs, op, []string{store.FlagDone}, q.sess.User); err != nil {
		return nil, teamRefusal(err)
	}
	return ok, nil
}
