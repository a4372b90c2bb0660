package autoreply

import (
	"context"
	"fmt"
	"mime"
	"strings"
	"time"

	"mailsrv/store"
)

// Assignment notices (issue 22): when someone assigns a member a message
// of a shared mailbox ($Assigned:<member>, from IMAP, the webmail or the
// CLI), the webmail tells the member live; a member who chose it
// (store.MemberPrefs.AssignMail, the webmail's "Mail me when a message is
// assigned to me") also gets a short mail from the shared address. Nobody
// is mailed about assigning a message to themselves.
//
// The notices follow the store's change events of this server: with
// several servers sharing one store (SPEC §9), each sends the notices of
// the assignments made through it.

// assignQueue bounds the notices waiting to be sent; beyond it they are
// dropped with a warning (the webmail still shows the assignment).
const assignQueue = 256

type assignNotice struct {
	mailboxID, folderID uint64
	uid                 uint32
	member, actor       string
}

// RunAssignNotices sends assignment notices until ctx ends.
func (r *Responder) RunAssignNotices(ctx context.Context) {
	ch := make(chan assignNotice, assignQueue)
	cancel := r.Store.Subscribe(func(ev store.Event) {
		// On the committer goroutine: only look, and hand over.
		for _, n := range assignments(ev) {
			select {
			case ch <- n:
			default:
				r.Log.Warn("assignment notice dropped: too many at once", "member", n.member, "uid", n.uid)
			}
		}
	})
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-ch:
			if err := r.notifyAssigned(ctx, n); err != nil {
				r.Log.Warn("assignment notice", "member", n.member, "mailbox", n.mailboxID, "uid", n.uid, "err", err)
			}
		}
	}
}

// assignments are the messages a flags event assigned to a new member by
// someone else.
func assignments(ev store.Event) []assignNotice {
	if ev.Kind != store.EventFlags || len(ev.Prev) != len(ev.UIDs) || len(ev.Flags) != len(ev.UIDs) {
		return nil
	}
	var out []assignNotice
	for i, uid := range ev.UIDs {
		to := store.Assignee(ev.Flags[i])
		if to == "" || to == store.Assignee(ev.Prev[i]) || strings.EqualFold(to, ev.Actor) {
			continue
		}
		out = append(out, assignNotice{mailboxID: ev.MailboxID, folderID: ev.FolderID, uid: uid, member: to, actor: ev.Actor})
	}
	return out
}

func (r *Responder) notifyAssigned(ctx context.Context, n assignNotice) error {
	prefs, err := r.Store.Prefs(ctx, n.member)
	if err != nil || !prefs.AssignMail {
		return err
	}
	mb, err := r.Store.Mailbox(ctx, n.mailboxID)
	if err != nil {
		return err
	}
	f, err := r.Store.FolderByID(ctx, n.folderID)
	if err != nil {
		return err
	}
	msgs, err := r.Store.Messages(ctx, n.folderID, []uint32{n.uid})
	if err != nil || len(msgs) == 0 {
		return err // expunged meanwhile: nothing to tell
	}
	if err := r.Send(ctx, mb, n.member, r.composeAssigned(mb, f.Name, &msgs[0], n), false); err != nil {
		return err
	}
	r.Log.Info("sent assignment notice", "mailbox", mb.Address, "to", n.member, "uid", n.uid)
	return nil
}

func (r *Responder) composeAssigned(mb *store.Mailbox, folder string, m *store.Message, n assignNotice) []byte {
	subject, from, id := "(no subject)", "", ""
	if e := m.Envelope; e != nil {
		if e.Subject != "" {
			subject = oneLine(e.Subject)
		}
		if len(e.From) > 0 {
			from = e.From[0].Addr()
		}
		id = e.MessageID
	}
	by := n.actor
	if by == "" {
		by = "the administrator"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <%s>\r\n", mb.Address, n.member)
	fmt.Fprintf(&b, "Subject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\n", mime.QEncoding.Encode("utf-8", "Assigned to you: "+subject),
		time.Now().Format(time.RFC1123Z), newMessageID(r.Hostname))
	if id != "" {
		fmt.Fprintf(&b, "References: %s\r\n", id)
	}
	b.WriteString("Auto-Submitted: auto-generated\r\nPrecedence: bulk\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	fmt.Fprintf(&b, "%s assigned you a message in %s/%s:\r\n\r\n", by, mb.Address, folder)
	fmt.Fprintf(&b, "  From:     %s\r\n  Subject:  %s\r\n  Received: %s\r\n", from, subject, m.InternalDate.Format(time.RFC1123Z))
	if id != "" {
		fmt.Fprintf(&b, "  Message:  %s\r\n", id)
	}
	fmt.Fprintf(&b, "\r\nOpen it in the webmail: https://%s/mail/%s/%s\r\n", r.Hostname, mb.Address, folder)
	b.WriteString("\r\nYou get this mail because you chose \"Mail me when a message is assigned to me\" in the webmail.\r\n")
	return []byte(b.String())
}
