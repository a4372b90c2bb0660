package mail

import (
	"slices"
	"sync"
	"time"
)

// "Who is replying" (issue 22): while a member has a reply to a shared
// message open, the page sends a heartbeat (POST /replying every
// replyHeartbeat); the member is shown as replying until replyTTL after
// the last one, or until the page says the reply was sent or closed. A
// presence is not a store write: nothing of it is durable, and a
// keystroke costs nothing.
//
// This server keeps the presences in memory (memPresence), so with
// several servers over one PostgreSQL store (SPEC §9) a member sees only
// the replies opened through the same server. The webmail reaches them
// only through the Presence interface, whose operations are what a
// shared implementation needs: a keyed entry with an expiry time (a row
// with "until", or a key with a TTL), a list per mailbox, and a change
// notification (the store's cross-server change events, or LISTEN/NOTIFY).

const (
	// replyTTL is how long a presence lasts without a heartbeat.
	replyTTL = 30 * time.Second
	// replyHeartbeat is how often the page renews it (the page's constant
	// in mail.js is the same).
	replyHeartbeat = 10 * time.Second
	// presenceSweep is how often expired presences are dropped.
	presenceSweep = time.Second
)

// ReplyKey names one message of a shared mailbox.
type ReplyKey struct {
	MailboxID uint64
	FolderID  uint64
	UID       uint32
}

// Replying is one member with a reply open to a message.
type Replying struct {
	Key    ReplyKey
	Member string
	Name   string // the member's display name, "" = none
	Until  time.Time
}

// Presence records who is replying to what.
type Presence interface {
	// Set records (or renews) member's reply to key until the time given.
	Set(key ReplyKey, member, name string, until time.Time)
	// Clear removes member's reply to key (sent or closed).
	Clear(key ReplyKey, member string)
	// List returns the live presences in mailbox mbid at now.
	List(mbid uint64, now time.Time) []Replying
	// Version changes whenever the set of presences does.
	Version() uint64
}

// memPresence is Presence in this process's memory. onChange runs after
// every change (outside the lock); Close stops the expiry sweep.
type memPresence struct {
	onChange func()
	now      func() time.Time
	stop     chan struct{}
	once     sync.Once

	mu      sync.Mutex
	entries map[ReplyKey][]Replying
	version uint64
}

func newMemPresence(now func() time.Time, onChange func()) *memPresence {
	p := &memPresence{onChange: onChange, now: now, stop: make(chan struct{}), entries: map[ReplyKey][]Replying{}}
	go p.sweep()
	return p
}

func (p *memPresence) Close() { p.once.Do(func() { close(p.stop) }) }

func (p *memPresence) changed() {
	if p.onChange != nil {
		p.onChange()
	}
}

func (p *memPresence) Set(key ReplyKey, member, name string, until time.Time) {
	p.mu.Lock()
	l := p.entries[key]
	i := slices.IndexFunc(l, func(r Replying) bool { return r.Member == member })
	fresh := i < 0
	if fresh {
		l = append(l, Replying{Key: key, Member: member, Name: name, Until: until})
		p.version++
	} else {
		l[i].Until = until
	}
	p.entries[key] = l
	p.mu.Unlock()
	if fresh {
		p.changed()
	}
}

func (p *memPresence) Clear(key ReplyKey, member string) {
	p.mu.Lock()
	l := p.entries[key]
	n := len(l)
	l = slices.DeleteFunc(l, func(r Replying) bool { return r.Member == member })
	gone := len(l) < n
	if len(l) == 0 {
		delete(p.entries, key)
	} else {
		p.entries[key] = l
	}
	if gone {
		p.version++
	}
	p.mu.Unlock()
	if gone {
		p.changed()
	}
}

func (p *memPresence) List(mbid uint64, now time.Time) []Replying {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Replying
	for k, l := range p.entries {
		if k.MailboxID != mbid {
			continue
		}
		for _, r := range l {
			if now.Before(r.Until) {
				out = append(out, r)
			}
		}
	}
	slices.SortFunc(out, func(a, b Replying) int {
		if a.Key.UID != b.Key.UID {
			return int(a.Key.UID) - int(b.Key.UID)
		}
		if a.Member < b.Member {
			return -1
		}
		return 1
	})
	return out
}

func (p *memPresence) Version() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.version
}

// sweep drops expired presences (a page closed without saying so: its
// heartbeats stopped) and tells the streams.
func (p *memPresence) sweep() {
	t := time.NewTicker(presenceSweep)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		now := p.now()
		p.mu.Lock()
		dropped := false
		for k, l := range p.entries {
			n := len(l)
			l = slices.DeleteFunc(l, func(r Replying) bool { return !now.Before(r.Until) })
			if len(l) < n {
				dropped = true
			}
			if len(l) == 0 {
				delete(p.entries, k)
			} else {
				p.entries[k] = l
			}
		}
		if dropped {
			p.version++
		}
		p.mu.Unlock()
		if dropped {
			p.changed()
		}
	}
}
