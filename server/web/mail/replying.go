package mail

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// Who is replying, and the stale-reply warning (issue 22).
//
//	POST /api/mail/{account}/replying {"folder","uid","active":true|false}
//	     the page's heartbeat while a reply to that message of a shared
//	     mailbox is open (active) and its end (sent, discarded, page
//	     left). {"since": server time}: the page sends it back with the
//	     reply as reply_since.
//
// The event stream carries event "replying", data {"account",
// "replying":[{"folder","uid","member","name"}]}: everyone replying in
// that shared mailbox except the user, sent when it changes.
//
// /send with reply_folder, reply_uid and reply_since checks, before
// sending, whether the shared Sent got a reply to that message after
// reply_since, or the message became \Answered (reply_answered says
// whether it was when the reply was opened). Then it answers 409 with
// {"error", "stale":[Reply]} and sends nothing; the page shows the reply
// and sends again with confirm_stale=1 if the member still wants to.

type replyingArgs struct {
	Folder string `json:"folder"`
	UID    uint32 `json:"uid"`
	Active bool   `json:"active"`
}

// ReplyingInfo is one entry of a "replying" event.
type ReplyingInfo struct {
	Folder string `json:"folder"`
	UID    uint32 `json:"uid"`
	Member string `json:"member"`
	Name   string `json:"name,omitempty"`
}

// Reply is a reply someone else sent, as the stale warning shows it.
type Reply struct {
	UID     uint32    `json:"uid"`
	Folder  string    `json:"folder"`
	Date    time.Time `json:"date"`
	From    string    `json:"from"`
	Sender  string    `json:"sender,omitempty"`
	To      string    `json:"to"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	// By is the member who sent it, from the shared mailbox's audit log
	// (send-as/send-on-behalf), with their name; "" when another client
	// stored it.
	By     string `json:"by,omitempty"`
	ByName string `json:"by_name,omitempty"`

	messageID string
}

func (m *Mail) apiReplying(q *request) (any, error) {
	var args replyingArgs
	if err := readBody(q, &args); err != nil {
		return nil, err
	}
	a, err := m.sharedAccount(q, acl.OpRead)
	if err != nil {
		return nil, err
	}
	f, err := m.folder(q.r.Context(), a, args.Folder)
	if err != nil {
		return nil, err
	}
	if args.UID == 0 {
		return nil, errorf(http.StatusBadRequest, "uid must be a message UID (a positive number)")
	}
	key := ReplyKey{MailboxID: a.mb.ID, FolderID: f.ID, UID: args.UID}
	now := time.Now()
	if !args.Active {
		m.presence.Clear(key, q.sess.User)
		return map[string]any{"ok": true}, nil
	}
	name := ""
	if u, err := m.st.User(q.r.Context(), q.sess.User); err == nil {
		name = u.Name
	}
	m.presence.Set(key, q.sess.User, name, now.Add(replyTTL))
	return map[string]any{"ok": true, "since": m.st.Now().UTC().Format(time.RFC3339Nano)}, nil
}

// replyingIn is what a "replying" event says about account a for user:
// the others' replies, with folder names.
func (m *Mail) replyingIn(ctx context.Context, a *account, user string, now time.Time, names map[uint64]string) []ReplyingInfo {
	out := []ReplyingInfo{}
	for _, r := range m.presence.List(a.mb.ID, now) {
		if r.Member == user {
			continue
		}
		name, ok := names[r.Key.FolderID]
		if !ok {
			if f, err := m.st.FolderByID(ctx, r.Key.FolderID); err == nil {
				name = f.Name
			}
			names[r.Key.FolderID] = name
		}
		out = append(out, ReplyingInfo{Folder: name, UID: r.Key.UID, Member: r.Member, Name: r.Name})
	}
	return out
}

// staleChunk is how many Sent messages the stale check reads at a time,
// newest first; it stops at the first chunk entirely older than the
// reply it checks.
const staleChunk = 50

// staleReplies returns the replies to message uid of folder in shared
// account a that reached its Sent after since, and whether the message
// is \Answered now.
func (m *Mail) staleReplies(ctx context.Context, a account, folder string, uid uint32, since time.Time) ([]Reply, bool, error) {
	f, err := m.folder(ctx, a, folder)
	if err != nil {
		return nil, false, err
	}
	orig, err := m.st.Messages(ctx, f.ID, []uint32{uid})
	if err != nil || len(orig) == 0 || orig[0].Envelope == nil || orig[0].Envelope.MessageID == "" {
		return nil, false, err
	}
	answered := hasFlag(orig[0].Flags, `\Answered`)
	id := strings.Trim(orig[0].Envelope.MessageID, "<> ")
	sent, err := m.specialFolder(ctx, a, `\Sent`, "Sent")
	if err != nil {
		return nil, answered, nil
	}
	uids, err := m.st.FolderUIDs(ctx, sent.ID)
	if err != nil {
		return nil, answered, err
	}
	names := func(l []string) bool {
		return slices.ContainsFunc(l, func(x string) bool { return strings.Trim(x, "<> ") == id })
	}
	var out []Reply
	for hi := len(uids); hi > 0; hi -= staleChunk {
		msgs, err := m.st.Messages(ctx, sent.ID, uids[max(hi-staleChunk, 0):hi])
		if err != nil {
			return nil, answered, err
		}
		newer := false
		for i := range msgs {
			msg := &msgs[i]
			if !msg.InternalDate.After(since) {
				continue
			}
			newer = true
			if e := msg.Envelope; e != nil && (names(e.InReplyTo) || names(e.References)) {
				out = append(out, m.reply(ctx, a, sent, msg))
			}
		}
		if !newer {
			break
		}
	}
	slices.SortFunc(out, func(x, y Reply) int { return x.Date.Compare(y.Date) })
	if len(out) > 0 {
		m.senders(ctx, a, out, since)
	}
	return out, answered, nil
}

// senders fills in who sent each reply, from the audit log's send-as and
// send-on-behalf entries since the reply was opened.
func (m *Mail) senders(ctx context.Context, a account, replies []Reply, since time.Time) {
	log, err := m.st.AuditLog(ctx, a.mb.ID, since.Add(-time.Minute))
	if err != nil {
		return
	}
	by := map[string]string{}
	for _, e := range log {
		if e.Action == "send-as" || e.Action == "send-on-behalf" {
			by[strings.Trim(e.MessageID, "<> ")] = e.Actor
		}
	}
	for i := range replies {
		r := &replies[i]
		if r.By = by[r.messageID]; r.By != "" {
			if u, err := m.st.User(ctx, r.By); err == nil {
				r.ByName = u.Name
			}
		}
	}
}

// reply shows one Sent message for the stale warning.
func (m *Mail) reply(ctx context.Context, a account, f *store.Folder, msg *store.Message) Reply {
	r := Reply{UID: msg.UID, Folder: f.Name, Date: msg.InternalDate}
	if e := msg.Envelope; e != nil {
		r.From, r.Sender, r.To, r.Subject = addrList(e.From), addrList(e.Sender), addrList(e.To), e.Subject
		r.messageID = strings.Trim(e.MessageID, "<> ")
	}
	if rc, err := m.st.OpenMessage(ctx, msg); err == nil {
		raw, err := readAllLimited(rc, 1<<20)
		rc.Close()
		if err == nil {
			r.Text = view(&loaded{a: a, f: f, msg: *msg, raw: raw}).Text
		}
	}
	return r
}

// checkStale is the check /send makes before a reply goes out; it
// returns true when it answered 409 (the reply is not sent).
func (m *Mail) checkStale(q *request, a account, val func(string) string) (bool, error) {
	if !a.shared() || val("confirm_stale") == "1" || val("reply_since") == "" || val("reply_uid") == "" {
		return false, nil
	}
	since, err := time.Parse(time.RFC3339Nano, val("reply_since"))
	if err != nil {
		return false, errorf(http.StatusBadRequest, "reply_since must be the time /replying answered (RFC 3339)")
	}
	uid, err := strconv.ParseUint(val("reply_uid"), 10, 32)
	if err != nil {
		return false, errorf(http.StatusBadRequest, "reply_uid must be a message UID")
	}
	replies, answered, err := m.staleReplies(q.r.Context(), a, val("reply_folder"), uint32(uid), since)
	if err != nil {
		return false, err
	}
	newlyAnswered := answered && val("reply_answered") != "1"
	if len(replies) == 0 && !newlyAnswered {
		return false, nil
	}
	msg := "someone else answered this message while you were writing: read their reply, then send yours anyway or discard it"
	if len(replies) > 0 && replies[0].By != "" {
		who := replies[0].ByName
		if who == "" {
			who = replies[0].By
		}
		msg = who + " answered this message while you were writing: read the reply, then send yours anyway or discard it"
	}
	if len(replies) == 0 {
		msg = "this message was marked answered (from another client) while you were writing: send yours anyway or discard it"
	}
	writeJSON(q.w, http.StatusConflict, map[string]any{"error": msg, "stale": replies})
	return true, nil
}

// replySent ends the sender's presence on the message they answered.
func (m *Mail) replySent(q *request, a account, folder, uidText string) {
	uid, err := strconv.ParseUint(uidText, 10, 32)
	if err != nil || uid == 0 || !a.shared() {
		return
	}
	if f, err := m.folder(q.r.Context(), a, folder); err == nil {
		m.presence.Clear(ReplyKey{MailboxID: a.mb.ID, FolderID: f.ID, UID: uint32(uid)}, q.sess.User)
	}
}

// readAllLimited reads at most limit bytes of r.
func readAllLimited(r io.Reader, limit int64) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, limit))
}
