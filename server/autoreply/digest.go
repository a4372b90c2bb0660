package autoreply

import (
	"context"
	"fmt"
	"mime"
	"slices"
	"strings"
	"time"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// DigestEvery is how often a shared mailbox sends its reminder digest.
const DigestEvery = 24 * time.Hour

// DigestCheckInterval is how often the digest job looks for digests due.
const DigestCheckInterval = time.Hour

// RunDigests sends the reminder digests due, at start and then every
// interval, until ctx ends, and forgets automatic replies older than
// Every; now is the clock (tests inject one).
func (r *Responder) RunDigests(ctx context.Context, interval time.Duration, now func() time.Time) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := r.Digests(ctx, now()); err != nil {
			r.Log.Error("reminder digests", "err", err)
		}
		if _, err := r.Store.PruneAutoReplies(ctx, now().Add(-Every)); err != nil {
			r.Log.Error("pruning the automatic reply log", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Digests sends, for every shared mailbox with a reminder threshold
// (`shared set --remind-after`) whose last digest is DigestEvery old, one
// mail to each member listing the INBOX messages that have waited longer
// than the threshold without an answer or $Done: a message assigned to
// somebody goes to its assignee only, an unassigned one to every member
// who can read the mailbox. A member with nothing to hear of gets no mail.
func (r *Responder) Digests(ctx context.Context, now time.Time) error {
	mbs, err := r.Store.SharedMailboxes(ctx)
	if err != nil {
		return err
	}
	for i := range mbs {
		mb := &mbs[i]
		if mb.RemindAfter <= 0 {
			continue
		}
		due, err := r.dueDigest(ctx, mb, now)
		if err != nil {
			r.Log.Warn("reminder digest", "mailbox", mb.Address, "err", err)
			continue
		}
		if len(due) == 0 {
			continue
		}
		if ok, err := r.Store.ClaimDigest(ctx, mb.ID, now, DigestEvery); err != nil || !ok {
			continue
		}
		for _, member := range sortedKeys(due) {
			msg := r.composeDigest(mb, member, due[member], now)
			if err := r.Send(ctx, mb, member, msg, false); err != nil {
				r.Log.Warn("reminder digest", "mailbox", mb.Address, "to", member, "err", err)
				continue
			}
			r.Log.Info("sent reminder digest", "mailbox", mb.Address, "to", member, "messages", len(due[member]))
		}
	}
	return nil
}

// dueDigest maps each member to the waiting messages they hear of.
func (r *Responder) dueDigest(ctx context.Context, mb *store.Mailbox, now time.Time) (map[string][]store.TeamMessage, error) {
	msgs, err := r.Store.TeamInbox(ctx, mb.ID)
	if err != nil {
		return nil, err
	}
	var members []string
	if mb.Owner != "" {
		members = append(members, mb.Owner)
	}
	entries, err := r.Store.ACL(ctx, mb.ID)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.Rights.Has(acl.Read) {
			members = append(members, e.Member)
		}
	}
	due := map[string][]store.TeamMessage{}
	for _, m := range msgs {
		if m.Done() || m.Answered() || slices.Contains(m.Flags, `\Deleted`) || now.Sub(m.Received) < mb.RemindAfter {
			continue
		}
		if a := m.Assignee(); a != "" {
			due[a] = append(due[a], m)
			continue
		}
		for _, member := range members {
			due[member] = append(due[member], m)
		}
	}
	return due, nil
}

func sortedKeys(m map[string][]store.TeamMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (r *Responder) composeDigest(mb *store.Mailbox, member string, msgs []store.TeamMessage, now time.Time) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s <%s>\r\nTo: <%s>\r\n", mime.QEncoding.Encode("utf-8", "Reminder "+mb.Address), mb.Address, member)
	subject := fmt.Sprintf("%s: %d message(s) waiting longer than %s", mb.Address, len(msgs), mb.RemindAfter)
	fmt.Fprintf(&b, "Subject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\n", mime.QEncoding.Encode("utf-8", subject), now.Format(time.RFC1123Z), newMessageID(r.Hostname))
	b.WriteString("Auto-Submitted: auto-generated\r\nPrecedence: bulk\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	fmt.Fprintf(&b, "These messages in %s have waited longer than %s without an answer:\r\n\r\n", mb.Address, mb.RemindAfter)
	for _, m := range msgs {
		who := "unassigned"
		if m.Assignee() == member {
			who = "assigned to you"
		}
		fmt.Fprintf(&b, "- %s ago, %s: %s %s (%s)\r\n", now.Sub(m.Received).Round(time.Minute), m.From, oneLine(m.Subject), m.MessageID, who)
	}
	fmt.Fprintf(&b, "\r\nSee them with `mailsrv shared queue %s --unanswered`.\r\n", mb.Address)
	return []byte(b.String())
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
