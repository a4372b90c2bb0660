package store

import (
	"log/slog"
	"runtime/debug"
	"sync"
)

// EventKind says what changed.
type EventKind int

const (
	// EventNew: messages UIDs were added to FolderID.
	EventNew EventKind = iota + 1
	// EventFlags: flags of UIDs in FolderID changed; Flags[i] are UIDs[i]'s new flags.
	EventFlags
	// EventExpunge: UIDs were removed from FolderID.
	EventExpunge
	// EventFolders: folders of MailboxID were created, renamed or deleted.
	EventFolders
	// EventACL: rights on MailboxID changed (Member says whose, "" = all).
	EventACL
	// EventMailbox: MailboxID was renamed, removed or restored.
	EventMailbox
	// EventSeenMode: shared mailbox MailboxID switched between shared and
	// per-member \Seen (seen_member.go).
	EventSeenMode
)

// Event is published after the commit that caused it, in commit order.
type Event struct {
	Kind      EventKind
	MailboxID uint64
	FolderID  uint64
	UIDs      []uint32
	Flags     [][]string
	Member    string
	// Keywords (EventNew, EventFlags) are the keywords this change used
	// for the first time in the folder: they are announced to IMAP
	// sessions before the messages that carry them.
	Keywords []string
	// Source is, for EventNew made by Copy or Move, the folder the
	// messages came from (0 for deliveries and APPEND): the junk filter
	// trains on moves into and out of Junk.
	Source uint64
	// Prev, for EventFlags, holds UIDs[i]'s flags before the change, so a
	// subscriber sees which keywords ($Junk, $NotJunk) were just added.
	Prev [][]string
	// Origin is who made the change, when they said (StoreFlagsFrom):
	// an id from NewOrigin, 0 for none. A subscriber recognises its own
	// change by it: an IMAP session that already answered a STORE with the
	// new flags must not get them a second time as an unsolicited update.
	Origin Origin
	// Actor (EventFlags) is who made the change ("" = the system), as
	// audited: the webmail tells an assignee who assigned them.
	Actor string
	// Private (EventFlags) names the member whose own \Seen this change
	// was, in a per-member mailbox (seen_member.go): only that member's
	// sessions see it; for others it only raises the folder's modseq.
	Private string
	// ModSeq (EventNew, EventFlags, EventExpunge) is the folder's
	// HighestModSeq after this change: each such event raises it by one,
	// so a gap shows a missed event (modseq.go).
	ModSeq uint64
}

// Origin is an opaque id of a change's maker, handed out by NewOrigin and
// unique within this process (0 = none). It never leaves the process: the
// shared event log (events_shared.go) gives it back only to events this
// server committed. What an id stands for (an IMAP session, say) is the
// caller's to remember.
type Origin uint64

// NewOrigin returns an Origin no other caller of this store has.
func (s *Store) NewOrigin() Origin { return Origin(s.originSeq.Add(1)) }

// bus fans events out to subscribers. Handlers run on the committer
// goroutine, in commit order, and must not block or write to the store.
type bus struct {
	mu   sync.RWMutex
	next int
	subs map[int]func(Event)
}

func (b *bus) publish(ev Event, log *slog.Logger) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, fn := range b.subs {
		deliverEvent(fn, ev, log)
	}
}

// deliverEvent calls one subscriber. Subscribers run on the committer
// goroutine, where a panic would stop every write of the server (and
// go-imap's MailboxTracker panics on an inconsistent update): it is logged
// and the other subscribers and the committer carry on.
func deliverEvent(fn func(Event), ev Event, log *slog.Logger) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("change event subscriber panicked", "panic", r, "event", ev.Kind,
				"mailbox", ev.MailboxID, "folder", ev.FolderID, "stack", string(debug.Stack()))
		}
	}()
	fn(ev)
}

// Subscribe registers fn for every event until cancel is called. fn runs on
// the committer goroutine: it must return quickly and never call a store
// write (which would deadlock).
func (s *Store) Subscribe(fn func(Event)) (cancel func()) {
	b := &s.bus
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[int]func(Event){}
	}
	id := b.next
	b.next++
	b.subs[id] = fn
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.subs, id)
		b.mu.Unlock()
	}
}
