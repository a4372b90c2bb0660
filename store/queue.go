package store

import (
	"context"
	"sort"
	"time"

	"mailsrv/store/kv"
)

// QueueItem is a message waiting for remote delivery. It holds a reference
// on its blob until it is delivered, bounced or dropped.
type QueueItem struct {
	ID          uint64    `json:"id"`
	From        string    `json:"from"` // envelope sender ("" = null sender, e.g. a bounce)
	To          []string  `json:"to"`   // recipients still to deliver
	Blob        string    `json:"blob"`
	Prefix      []byte    `json:"prefix,omitempty"`
	Size        int64     `json:"size"`
	Created     time.Time `json:"created"`
	NextAttempt time.Time `json:"next_attempt"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
	Warned      bool      `json:"warned,omitempty"` // delay DSN sent
	// LeaseOwner is the ServerID of the queue worker delivering the item
	// now, until LeaseUntil (queue_lease.go); "" = nobody.
	LeaseOwner string    `json:"lease_owner,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
}

func (t *Tx) enqueue(q *QueueItem) error {
	b := bucket(t.tx, "queue")
	id, err := b.NextSequence()
	if err != nil {
		return err
	}
	q.ID = id
	if q.Created.IsZero() {
		q.Created = t.s.now().UTC()
	}
	if q.NextAttempt.IsZero() {
		q.NextAttempt = q.Created
	}
	if err := t.refBlob(q.Blob, 1); err != nil {
		return err
	}
	return putJSON(b, u64(id), q)
}

// Queue lists queued items ordered by next attempt.
func (s *Store) Queue(ctx context.Context) ([]QueueItem, error) {
	var out []QueueItem
	err := s.view(ctx, func(tx kv.Tx) error {
		b := bucket(tx, "queue")
		return b.ForEach(func(k, _ []byte) error {
			var q QueueItem
			if _, err := getJSON(b, k, &q); err != nil {
				return err
			}
			out = append(out, q)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].NextAttempt.Before(out[j].NextAttempt) })
	return out, err
}

// QueueGet returns one queue item.
func (s *Store) QueueGet(ctx context.Context, id uint64) (*QueueItem, error) {
	var q QueueItem
	err := s.view(ctx, func(tx kv.Tx) error {
		ok, err := getJSON(bucket(tx, "queue"), u64(id), &q)
		if err == nil && !ok {
			err = errorf(ErrNotFound, "queue item %d: not found (see `mailsrv queue list`)", id)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &q, nil
}

// QueueUpdate saves a changed queue item (remaining recipients, attempts,
// next attempt). An item with no recipients left is removed.
func (s *Store) QueueUpdate(ctx context.Context, q *QueueItem) error {
	return s.update(ctx, func(t *Tx) error {
		b := bucket(t.tx, "queue")
		if b.Get(u64(q.ID)) == nil {
			return errorf(ErrNotFound, "queue item %d: not found (see `mailsrv queue list`)", q.ID)
		}
		if len(q.To) == 0 {
			if err := b.Delete(u64(q.ID)); err != nil {
				return err
			}
			return t.unrefBlob(q.Blob)
		}
		return putJSON(b, u64(q.ID), q)
	})
}

// QueueRemove deletes a queue item and releases its blob.
func (s *Store) QueueRemove(ctx context.Context, id uint64) error {
	return s.update(ctx, func(t *Tx) error {
		b := bucket(t.tx, "queue")
		var q QueueItem
		ok, err := getJSON(b, u64(id), &q)
		if err != nil {
			return err
		}
		if !ok {
			return errorf(ErrNotFound, "queue item %d: not found (see `mailsrv queue list`)", id)
		}
		if err := b.Delete(u64(id)); err != nil {
			return err
		}
		return t.unrefBlob(q.Blob)
	})
}

// OpenQueued returns a reader of a queued message (prefix + body).
func (s *Store) OpenQueued(ctx context.Context, q *QueueItem) (interface {
	Read([]byte) (int, error)
	Close() error
}, error) {
	return s.OpenMessage(ctx, &Message{Blob: q.Blob, Prefix: q.Prefix})
}
