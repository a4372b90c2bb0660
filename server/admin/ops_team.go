package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"mailsrv/store"
)

// teamArgs are the arguments of the team operations on a shared mailbox
// (SPEC §4: shared assign|done|queue|set) and of vacation.*.
type teamArgs struct {
	Address   string `json:"address"`
	MessageID string `json:"message_id,omitempty"`
	// shared.assign: To is the member, or None unassigns.
	To   string `json:"to,omitempty"`
	None bool   `json:"none,omitempty"`
	// shared.done: Undo clears $Done.
	Undo bool `json:"undo,omitempty"`
	// shared.queue filters.
	Unassigned bool   `json:"unassigned,omitempty"`
	AssignedTo string `json:"assigned_to,omitempty"`
	Unanswered bool   `json:"unanswered,omitempty"`
	// shared.set: AutoReply is the text itself (the CLI reads the file),
	// NoAutoReply removes it, RemindAfter is a duration ("4h", "0" = off).
	AutoReply   string `json:"auto_reply,omitempty"`
	NoAutoReply bool   `json:"no_auto_reply,omitempty"`
	RemindAfter string `json:"remind_after,omitempty"`
	// Seen (shared.set): "shared" or "per-member" \Seen; "" = unchanged.
	Seen string `json:"seen,omitempty"`
	// vacation.set
	Body    string `json:"body,omitempty"`
	Subject string `json:"subject,omitempty"`
	Until   string `json:"until,omitempty"` // RFC 3339 or YYYY-MM-DD (end of that day, UTC)
}

// QueueEntry is one INBOX message as `shared queue` prints it.
type QueueEntry struct {
	MessageID  string    `json:"message_id"`
	UID        uint32    `json:"uid"`
	From       string    `json:"from"`
	Subject    string    `json:"subject"`
	Received   time.Time `json:"received"`
	AgeSeconds int64     `json:"age_seconds"`
	AssignedTo string    `json:"assigned_to"`
	Done       bool      `json:"done"`
	Answered   bool      `json:"answered"`
}

// AutoReplyInfo is how `vacation show` and `shared set` describe an
// automatic reply.
type AutoReplyInfo struct {
	Address     string     `json:"address"`
	Enabled     bool       `json:"enabled"`
	Active      bool       `json:"active"` // enabled and not past Until
	Subject     string     `json:"subject,omitempty"`
	Body        string     `json:"body,omitempty"`
	Until       *time.Time `json:"until,omitempty"`
	RemindAfter string     `json:"remind_after,omitempty"`
	// Seen (shared mailboxes): "shared" or "per-member".
	Seen string `json:"seen,omitempty"`
}

func (h *Handler) autoReplyInfo(mb *store.Mailbox) AutoReplyInfo {
	info := AutoReplyInfo{Address: mb.Address}
	if ar := mb.AutoReply; ar != nil {
		info.Enabled, info.Active, info.Subject, info.Body = true, ar.Active(h.now()), ar.Subject, ar.Body
		if !ar.Until.IsZero() {
			u := ar.Until
			info.Until = &u
		}
	}
	if mb.RemindAfter > 0 {
		info.RemindAfter = mb.RemindAfter.String()
	}
	if mb.Kind == store.MailboxShared {
		info.Seen = seenMode(mb)
	}
	return info
}

// QueueEntries turns a shared mailbox's INBOX into queue entries at now,
// with the filters of `shared queue`.
func QueueEntries(msgs []store.TeamMessage, now time.Time, unassigned, unanswered bool, assignedTo string) []QueueEntry {
	out := []QueueEntry{}
	for i := range msgs {
		m := &msgs[i]
		if hasFlagFold(m.Flags, `\Deleted`) {
			continue
		}
		e := QueueEntry{MessageID: m.MessageID, UID: m.UID, From: m.From, Subject: m.Subject, Received: m.Received,
			AgeSeconds: int64(now.Sub(m.Received) / time.Second), AssignedTo: m.Assignee(), Done: m.Done(), Answered: m.Answered()}
		switch {
		case unassigned && e.AssignedTo != "":
			continue
		case assignedTo != "" && e.AssignedTo != assignedTo:
			continue
		case unanswered && (e.Done || e.Answered):
			continue
		}
		out = append(out, e)
	}
	return out
}

func hasFlagFold(flags []string, f string) bool {
	for _, x := range flags {
		if strings.EqualFold(x, f) {
			return true
		}
	}
	return false
}

func (h *Handler) teamOps() map[string]OpFunc {
	return map[string]OpFunc{
		"shared.assign": op(func(ctx context.Context, a teamArgs) (any, error) {
			if (a.To == "") == !a.None {
				return nil, errors.New("give either --to MEMBER or --none")
			}
			mb, err := h.sharedMailbox(ctx, a.Address)
			if err != nil {
				return nil, err
			}
			member := ""
			if !a.None {
				if member, err = store.NormalizeAddress(a.To); err != nil {
					return nil, fmt.Errorf("--to: %w", err)
				}
			}
			tm, err := h.Store.Assign(ctx, mb.ID, a.MessageID, member, actor(ctx))
			if err != nil {
				return nil, err
			}
			if member == "" {
				return Done{Message: fmt.Sprintf("%s in %s is unassigned", tm.MessageID, mb.Address)}, nil
			}
			return Done{Message: fmt.Sprintf("%s in %s is assigned to %s", tm.MessageID, mb.Address, member)}, nil
		}),
		"shared.done": op(func(ctx context.Context, a teamArgs) (any, error) {
			mb, err := h.sharedMailbox(ctx, a.Address)
			if err != nil {
				return nil, err
			}
			tm, err := h.Store.SetDone(ctx, mb.ID, a.MessageID, !a.Undo, actor(ctx))
			if err != nil {
				return nil, err
			}
			if a.Undo {
				return Done{Message: fmt.Sprintf("%s in %s is open again", tm.MessageID, mb.Address)}, nil
			}
			return Done{Message: fmt.Sprintf("%s in %s is done", tm.MessageID, mb.Address)}, nil
		}),
		"shared.queue": op(func(ctx context.Context, a teamArgs) (any, error) {
			if a.Unassigned && a.AssignedTo != "" {
				return nil, errors.New("--unassigned and --assigned-to exclude each other: give one")
			}
			mb, err := h.sharedMailbox(ctx, a.Address)
			if err != nil {
				return nil, err
			}
			member := ""
			if a.AssignedTo != "" {
				if member, err = store.NormalizeAddress(a.AssignedTo); err != nil {
					return nil, fmt.Errorf("--assigned-to: %w", err)
				}
			}
			msgs, err := h.Store.TeamInbox(ctx, mb.ID)
			if err != nil {
				return nil, err
			}
			return QueueEntries(msgs, h.now(), a.Unassigned, a.Unanswered, member), nil
		}),
		"shared.set": op(func(ctx context.Context, a teamArgs) (any, error) {
			if a.AutoReply != "" && a.NoAutoReply {
				return nil, errors.New("--auto-reply-file and --no-auto-reply exclude each other: give one")
			}
			if a.AutoReply == "" && !a.NoAutoReply && a.RemindAfter == "" && a.Seen == "" {
				return nil, errors.New("nothing to set: give --seen shared|per-member, --auto-reply-file FILE, --no-auto-reply or --remind-after DURATION")
			}
			mb, err := h.sharedMailbox(ctx, a.Address)
			if err != nil {
				return nil, err
			}
			if a.Seen != "" {
				perMember, err := parseSeen(a.Seen)
				if err != nil {
					return nil, err
				}
				if mb, err = h.Store.SetSeenMode(ctx, mb.ID, perMember, actor(ctx)); err != nil {
					return nil, err
				}
			}
			if a.RemindAfter != "" {
				d := time.Duration(0)
				if a.RemindAfter != "0" {
					if d, err = ParseDuration(a.RemindAfter); err != nil || d < 0 {
						return nil, fmt.Errorf("--remind-after: want a duration like 4h or 2d (0 turns reminders off)")
					}
				}
				if mb, err = h.Store.SetRemindAfter(ctx, mb.ID, d, actor(ctx)); err != nil {
					return nil, err
				}
			}
			if a.AutoReply != "" || a.NoAutoReply {
				var ar *store.AutoReply
				if a.AutoReply != "" {
					ar = &store.AutoReply{Body: a.AutoReply}
				}
				if mb, err = h.Store.SetAutoReply(ctx, mb.ID, ar, actor(ctx)); err != nil {
					return nil, err
				}
			}
			return h.autoReplyInfo(mb), nil
		}),
		"vacation.set": op(func(ctx context.Context, a teamArgs) (any, error) {
			mb, err := h.personalMailbox(ctx, a.Address)
			if err != nil {
				return nil, err
			}
			if strings.TrimSpace(a.Body) == "" {
				return nil, errors.New("the vacation notice is empty: give --body-file with the text to send")
			}
			ar := &store.AutoReply{Body: a.Body, Subject: a.Subject}
			if a.Until != "" {
				if ar.Until, err = parseUntil(a.Until); err != nil {
					return nil, err
				}
				if !ar.Until.After(h.now()) {
					return nil, fmt.Errorf("--until %s is in the past", a.Until)
				}
			}
			if mb, err = h.Store.SetAutoReply(ctx, mb.ID, ar, actor(ctx)); err != nil {
				return nil, err
			}
			return h.autoReplyInfo(mb), nil
		}),
		"vacation.off": op(func(ctx context.Context, a teamArgs) (any, error) {
			mb, err := h.personalMailbox(ctx, a.Address)
			if err != nil {
				return nil, err
			}
			if _, err := h.Store.SetAutoReply(ctx, mb.ID, nil, actor(ctx)); err != nil {
				return nil, err
			}
			return Done{Message: "vacation notice of " + mb.Address + " is off"}, nil
		}),
		"vacation.show": op(func(ctx context.Context, a teamArgs) (any, error) {
			mb, err := h.personalMailbox(ctx, a.Address)
			if err != nil {
				return nil, err
			}
			return h.autoReplyInfo(mb), nil
		}),
	}
}

// personalMailbox finds the live personal mailbox of user addr.
func (h *Handler) personalMailbox(ctx context.Context, addr string) (*store.Mailbox, error) {
	mb, err := h.Store.MailboxByAddress(ctx, addr)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no user %s (see `mailsrv user list`)", strings.TrimSpace(addr))
	}
	if err != nil {
		return nil, err
	}
	if mb.Kind != store.MailboxPersonal {
		return nil, fmt.Errorf("%s is a shared mailbox: its automatic reply is set with `mailsrv shared set %s --auto-reply-file FILE`", mb.Address, mb.Address)
	}
	return mb, nil
}

// parseUntil reads --until: RFC 3339, or a date meaning the end of that
// day (UTC).
func parseUntil(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Add(24 * time.Hour), nil
	}
	return time.Time{}, fmt.Errorf("--until %q: want a date like 2026-12-24 or 2026-12-24T18:00:00Z", s)
}
