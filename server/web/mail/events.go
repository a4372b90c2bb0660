package mail

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
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
}

type hub struct {
	unsub func()

	mu      sync.Mutex
	ring    []hubEvent // ids first..last, oldest first
	last    uint64
	waiters map[chan struct{}]struct{}
}

func newHub(st *store.Store) *hub {
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
	ev = store.Event{Kind: ev.Kind, MailboxID: ev.MailboxID, FolderID: ev.FolderID, UIDs: slices.Clone(ev.UIDs), Member: ev.Member}
	h.mu.Lock()
	h.last++
	h.ring = append(h.ring, hubEvent{id: h.last, ev: ev})
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
		if len(evs) > 0 && m.opts.Sessions.Session(r) == nil {
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
			d := Event{Account: a.mb.Address, UIDs: he.ev.UIDs}
			if he.ev.FolderID != 0 {
				if f, err := m.st.FolderByID(he.ev.FolderID); err == nil {
					d.Folder = f.Name
				}
			}
			data, _ := json.Marshal(d)
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", he.id, eventNames[he.ev.Kind], data)
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
