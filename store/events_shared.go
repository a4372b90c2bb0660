package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"sync"
	"time"

	"mailsrv/store/kv"
)

// Change events across servers. When several servers share the engine
// (PostgreSQL), an event published by one must reach the IMAP sessions of
// all, in one order. So on a shared engine the committer does not hand
// events to the bus itself: it writes each into the bucket "events" in the
// same write transaction, under a cluster-wide sequence (writers are serial
// cluster-wide, so sequences commit in order, with no gaps), with this
// server's id. Every server's pump (eventLog) reads the records after the
// last sequence it published — when the engine says something committed
// (NOTIFY), on (re)connect, on a 1 s safety tick, and after its own
// commits before they return — and publishes them in sequence order, its
// own included, so local and remote events cannot reorder. Origin (an
// in-memory value) is honoured only for this server's own events. A gap
// (records pruned before this server read them) is logged; records older
// than eventRetention are pruned by the writers.

// changeListener is implemented by an engine that several servers share
// (store/kv/pgkv): changed is called after any server's write commit and
// on every (re)connection.
type changeListener interface {
	Listen(ctx context.Context, changed func(), logf func(msg string, err error))
}

const (
	eventRetention = 15 * time.Minute
	eventTick      = time.Second
	prunePerCommit = 500
)

var eventsBucket = []byte("events")

// eventRecord is one stored event.
type eventRecord struct {
	Server string    `json:"s"`
	Time   int64     `json:"t"` // unix nanoseconds
	Event  wireEvent `json:"e"`
}

// wireEvent is Event without Origin (which never leaves the process).
type wireEvent struct {
	Kind      EventKind  `json:"k"`
	MailboxID uint64     `json:"mb,omitempty"`
	FolderID  uint64     `json:"f,omitempty"`
	UIDs      []uint32   `json:"u,omitempty"`
	Flags     [][]string `json:"fl,omitempty"`
	Member    string     `json:"m,omitempty"`
	Keywords  []string   `json:"kw,omitempty"`
	Source    uint64     `json:"src,omitempty"`
	Prev      [][]string `json:"p,omitempty"`
	ModSeq    uint64     `json:"ms,omitempty"`
	Actor     string     `json:"a,omitempty"`
	Private   string     `json:"pv,omitempty"`
}

func toWire(ev Event) wireEvent {
	return wireEvent{ev.Kind, ev.MailboxID, ev.FolderID, ev.UIDs, ev.Flags, ev.Member,
		ev.Keywords, ev.Source, ev.Prev, ev.ModSeq, ev.Actor, ev.Private}
}

func (w wireEvent) event() Event {
	return Event{Kind: w.Kind, MailboxID: w.MailboxID, FolderID: w.FolderID, UIDs: w.UIDs,
		Flags: w.Flags, Member: w.Member, Keywords: w.Keywords, Source: w.Source,
		Prev: w.Prev, ModSeq: w.ModSeq, Actor: w.Actor, Private: w.Private}
}

// eventLog is the pump of a store on a shared engine.
type eventLog struct {
	s      *Store
	wake   chan struct{}
	cancel context.CancelFunc
	done   sync.WaitGroup

	mu        sync.Mutex // serialises catch-up reads and publication
	last      uint64     // last sequence published
	origins   map[uint64]Origin
	lastPrune time.Time
}

func startEventLog(s *Store, l changeListener) (*eventLog, error) {
	e := &eventLog{s: s, wake: make(chan struct{}, 1), origins: map[uint64]Origin{}}
	// Start after what is already there: history is not replayed.
	err := s.db.View(context.Background(), func(tx kv.Tx) error {
		if b := tx.Bucket(eventsBucket); b != nil {
			if k, _ := b.Cursor().Last(); k != nil {
				e.last = binary.BigEndian.Uint64(k)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.done.Add(2)
	go func() {
		defer e.done.Done()
		l.Listen(ctx, e.poke, func(msg string, err error) { s.log.Warn(msg, "err", err) })
	}()
	go func() {
		defer e.done.Done()
		e.loop(ctx)
	}()
	return e, nil
}

func (e *eventLog) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *eventLog) loop(ctx context.Context) {
	tick := time.NewTicker(eventTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		case <-tick.C:
		}
		e.catchUp()
	}
}

func (e *eventLog) stop() {
	e.cancel()
	e.done.Wait()
}

// record writes the events of a committing transaction (called by the
// committer inside it) and prunes old records.
func (e *eventLog) record(tx kv.Tx, txs []*Tx) error {
	b, err := tx.CreateBucketIfNotExists(eventsBucket)
	if err != nil {
		return err
	}
	now := e.s.now()
	for _, t := range txs {
		for _, ev := range t.events {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			raw, err := json.Marshal(eventRecord{Server: e.s.id, Time: now.UnixNano(), Event: toWire(ev)})
			if err != nil {
				return err
			}
			if err := b.Put(u64(seq), raw); err != nil {
				return err
			}
			if ev.Origin != 0 {
				e.mu.Lock()
				e.origins[seq] = ev.Origin
				e.mu.Unlock()
			}
		}
	}
	if now.Sub(e.lastPrune) < time.Minute {
		return nil
	}
	e.lastPrune = now
	cutoff := now.Add(-eventRetention).UnixNano()
	c := b.Cursor()
	for n := 0; n < prunePerCommit; n++ {
		k, v := c.First()
		if k == nil {
			break
		}
		var r eventRecord
		if json.Unmarshal(v, &r) == nil && r.Time >= cutoff {
			break
		}
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// catchUp publishes every event committed after the last one published.
func (e *eventLog) catchUp() {
	e.mu.Lock()
	defer e.mu.Unlock()
	type item struct {
		seq uint64
		rec eventRecord
	}
	var items []item
	err := e.s.db.View(context.Background(), func(tx kv.Tx) error {
		items = items[:0]
		b := tx.Bucket(eventsBucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(u64(e.last + 1)); k != nil && len(items) < 10000; k, v = c.Next() {
			var it item
			it.seq = binary.BigEndian.Uint64(k)
			if err := json.Unmarshal(v, &it.rec); err != nil {
				e.s.log.Error("unreadable change event record", "seq", it.seq, "err", err)
				it.rec = eventRecord{}
			}
			items = append(items, it)
		}
		return nil
	})
	if err != nil {
		e.s.log.Warn("reading change events failed; retrying", "err", err)
		return
	}
	for _, it := range items {
		if it.seq != e.last+1 && e.last != 0 {
			e.s.log.Error("change events were pruned before this server read them; open IMAP sessions may be out of date",
				"from", e.last+1, "to", it.seq-1)
		}
		e.last = it.seq
		if it.rec.Event.Kind == 0 {
			continue
		}
		ev := it.rec.Event.event()
		if it.rec.Server == e.s.id {
			ev.Origin = e.origins[it.seq]
		}
		delete(e.origins, it.seq)
		e.s.bus.publish(ev, e.s.log)
	}
	if len(items) == 10000 {
		e.poke()
	}
}

// forget drops the origins recorded by a transaction that did not commit
// (its sequences will be allocated again).
func (e *eventLog) forget(txs []*Tx) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for seq := range e.origins {
		if seq > e.last {
			delete(e.origins, seq)
		}
	}
}
