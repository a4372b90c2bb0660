package mail

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailsrv/store"
)

// Live updates: the hub follows the store's change events (published in
// commit order on the committer goroutine, where nothing may block) and
// keeps the last ringSize of them, numbered. Each open /api/mail/events
// stream waits for a wake-up, then reads the events after the last one it
// sent and forwards those of mailboxes the user may read. A browser that
// reconnects sends Last-Event-ID and gets what it missed; if that fell
// out of the ring (or the server restarted) it gets "reset" and reloads.

const (
	ringSize = 4096
	// heartbeat keeps idle streams (and proxies) from timing out.
	heartbeat = 25 * time.Second
	// rightsEvery re-reads the user's accounts on a quiet stream, so a
	// revoke stops the events even if its ACL event was missed.
	rightsEvery = time.Minute
)

type hubEvent struct {
	id  uint64
	ev  store.Event
	err bool
	// assigned maps the UIDs this flags change assigned to their new
	// assignee (the "assigned" event of that member's streams).
	assigned map[uint32]string
}

// newAssignments finds the messages a flags event assigned to somebody
// new ($Assigned:<member> added).
func newAssignments(ev store.Event) map[uint32]string {
	if ev.Kind != store.EventFlags || len(ev.Prev) != len(ev.UIDs) || len(ev.Flags) != len(ev.UIDs) {
		return nil
	}
	var out map[uint32]string
	for i, uid := range ev.UIDs {
		if to := store.Assignee(ev.Flags[i]); to != "" && to != store.Assignee(ev.Prev[i]) {
			if out == nil {
				out = map[uint32]string{}
			}
			out[uid] = to
		}
	}
	return out
}

type hub struct {
	unsub func()

	mu      sync.Mutex
	ring    []hubEvent // ids first..last, oldest first
	last    uint64
	waiters map[chan struct{}]struct{}
}

func newHub(st Store) *hub {
	h := &hub{waiters: map[chan struct{}]struct{}{}}
	h.unsub = st.Subscribe(h.publish)
	return h
}

func (h *hub) close() { h.unsub() }

// publish runs on the store's committer goroutine: copy, store, wake.
func (h *hub) publish(ev store.Event) {
	switch ev.Kind {
	case store.EventNew, store.EventFlags, store.EventExpunge, store.EventFolders, store.EventACL, store.EventMailbox:
	default:
		return
	}
	assigned := newAssignments(ev)
	ev = store.Event{Kind: ev.Kind, MailboxID: ev.MailboxID, FolderID: ev.FolderID, UIDs: slices.Clone(ev.UIDs), Member: ev.Member, Actor: ev.Actor, Private: ev.Private}
	h.mu.Lock()
	h.last++
	h.ring = append(h.ring, hubEvent{id: h.last, ev: ev, assigned: assigned})
	if len(h.ring) > ringSize {
		h.ring = slices.Delete(h.ring, 0, len(h.ring)-ringSize)
	}
	for w := range h.waiters {
		select {
		case w <- struct{}{}:
		default:
		}
	}
	h.mu.Unlock()
}

// since returns the events after id; ok is false when some of them are no
// longer kept (or id is from before a restart).
func (h *hub) since(id uint64) (evs []hubEvent, last uint64, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id > h.last {
		return nil, h.last, false
	}
	if id == h.last {
		return nil, h.last, true
	}
	if len(h.ring) == 0 || h.ring[0].id > id+1 {
		return nil, h.last, false
	}
	i := int(id + 1 - h.ring[0].id)
	return slices.Clone(h.ring[i:]), h.last, true
}

// wakeAll wakes every stream (a presence changed).
func (h *hub) wakeAll() {
	h.mu.Lock()
	for w := range h.waiters {
		select {
		case w <- struct{}{}:
		default:
		}
	}
	h.mu.Unlock()
}

func (h *hub) current() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

func (h *hub) wait() (chan struct{}, func()) {
	c := make(chan struct{}, 1)
	h.mu.Lock()
	h.waiters[c] = struct{}{}
	h.mu.Unlock()
	return c, func() {
		h.mu.Lock()
		delete(h.waiters, c)
		h.mu.Unlock()
	}
}

// Event is the data of one server-sent event.
type Event struct {
	Account string   `json:"account"`
	Folder  string   `json:"folder,omitempty"`
	UIDs    []uint32 `json:"uids,omitempty"`
}

var eventNames = map[store.EventKind]string{
	store.EventNew: "new", store.EventFlags: "flags", store.EventExpunge: "expunge",
	store.EventFolders: "folders", store.EventACL: "rights", store.EventMailbox: "rights",
}

func (m *Mail) apiEvents(w http.ResponseWriter, r *http.Request) {
	sess := m.opts.Sessions.Session(r)
	if sess == nil {
		writeError(w, http.StatusUnauthorized, "you are not logged in: log in at / first")
		return
	}
	q := &request{w: w, r: r, sess: sess, log: m.log.With("session", sess.ID[:8], "user", sess.User)}
	flusher, okF := w.(http.Flusher)
	if !okF {
		writeError(w, http.StatusInternalServerError, "this connection cannot stream events")
		return
	}
	accts, err := m.accountsOf(q)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "the server could not read your mailboxes; try again in a moment")
		return
	}
	wake, stop := m.events.wait()
	defer stop()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	last := m.events.current()
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			last = n
		}
	}
	fmt.Fprintf(w, "retry: 2000\n\n")
	flusher.Flush()
	// The "replying" data last sent per account, and folder names.
	sentReplying, folderNames := map[string]string{}, map[uint64]string{}
	presVer := ^uint64(0)
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	refreshed := time.Now()
	for {
		evs, cur, ok := m.events.since(last)
		if !ok {
			fmt.Fprintf(w, "id: %d\nevent: reset\ndata: {}\n\n", cur)
			last = cur
		}
		// A logout (or an expired session) ends the stream: nothing more
		// reaches a browser that is no longer logged in. Checked after
		// the events are read, so a change made after the logout is
		// never sent.
		pv := m.presence.Version()
		if (len(evs) > 0 || pv != presVer) && m.opts.Sessions.Session(r) == nil {
			fmt.Fprintf(w, "event: logout\ndata: {}\n\n")
			flusher.Flush()
			return
		}
		reread := false
		for _, he := range evs {
			last = he.id
			if he.ev.Kind == store.EventACL || he.ev.Kind == store.EventMailbox {
				reread = true
			}
			a := findAccount(accts, he.ev.MailboxID)
			if a == nil {
				continue // another user's mailbox
			}
			if he.ev.Private != "" && !strings.EqualFold(he.ev.Private, q.sess.User) {
				continue // another member's own \Seen (per-member mailbox)
			}
			d := Event{Account: a.mb.Address, UIDs: he.ev.UIDs}
			if he.ev.FolderID != 0 {
				if f, err := m.st.FolderByID(r.Context(), he.ev.FolderID); err == nil {
					d.Folder = f.Name
				}
			}
			data, _ := json.Marshal(d)
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", he.id, eventNames[he.ev.Kind], data)
			m.writeAssigned(w, q, a, &he, d.Folder)
		}
		if pv != presVer || reread {
			presVer = pv
			m.writeReplying(w, q, accts, sentReplying, folderNames)
		}
		flusher.Flush()
		if reread || time.Since(refreshed) > rightsEvery {
			if accts, err = m.accountsOf(q); err != nil {
				q.log.Warn("events: reading accounts", "err", err)
				return
			}
			refreshed = time.Now()
		}
		select {
		case <-r.Context().Done():
			return
		case <-m.streamsDone:
			return
		case <-wake:
		case <-tick.C:
			fmt.Fprintf(w, ": keep-alive\n\n")
		}

	}
}

func findAccount(accts []account, mbid uint64) *account {
	for i := range accts {
		if accts[i].mb.ID == mbid {
			return &accts[i]
		}
	}
	return nil
}

// Assigned is the data of an "assigned" event: messages just assigned
// to the stream's user.
type Assigned struct {
	Account  string   `json:"account"`
	Folder   string   `json:"folder"`
	UIDs     []uint32 `json:"uids"`
	Subjects []string `json:"subjects"`
	By       string   `json:"by,omitempty"`
}

// writeAssigned sends "assigned" when he assigned messages to the user.
func (m *Mail) writeAssigned(w io.Writer, q *request, a *account, he *hubEvent, folder string) {
	var uids []uint32
	for uid, to := range he.assigned {
		if strings.EqualFold(to, q.sess.User) {
			uids = append(uids, uid)
		}
	}
	if len(uids) == 0 {
		return
	}
	slices.Sort(uids)
	d := Assigned{Account: a.mb.Address, Folder: folder, UIDs: uids, Subjects: []string{}, By: he.ev.Actor}
	if msgs, err := m.st.Messages(q.r.Context(), he.ev.FolderID, uids); err == nil {
		for i := range msgs {
			if e := msgs[i].Envelope; e != nil {
				d.Subjects = append(d.Subjects, e.Subject)
			}
		}
	}
	data, _ := json.Marshal(d)
	fmt.Fprintf(w, "event: assigned\ndata: %s\n\n", data)
}

// writeReplying sends "replying" for each shared account whose list of
// others replying changed since the last one sent (an empty list is not
// sent until something was).
func (m *Mail) writeReplying(w io.Writer, q *request, accts []account, sent map[string]string, names map[uint64]string) {
	now := time.Now()
	for i := range accts {
		a := &accts[i]
		if !a.shared() {
			continue
		}
		list := m.replyingIn(q.r.Context(), a, q.sess.User, now, names)
		data, _ := json.Marshal(map[string]any{"account": a.mb.Address, "replying": list})
		prev, seen := sent[a.mb.Address]
		if prev == string(data) || !seen && len(list) == 0 {
			sent[a.mb.Address] = string(data)
			continue
		}
		sent[a.mb.Address] = string(data)
		fmt.Fprintf(w, "event: replying\ndata: %s\n\n", data)
	}
}
