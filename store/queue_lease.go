package store

import (
	"context"
	"time"
)

// Queue leases: several servers may run queue workers on one engine, and
// a queued message must still be delivered once. A worker claims the items
// it is about to deliver in one write transaction (QueueClaim), which
// writes its ServerID and an expiry into each item; another server's
// worker skips an item whose lease has not expired. A worker renews the
// leases of deliveries still running (QueueRenew) and drops its lease when
// it records the outcome (QueueUpdate with LeaseOwner cleared). A server
// that dies mid-delivery leaves its leases to expire, after which any
// worker takes the item over: at-least-once, as before, with the only
// duplicate being the message of a server that died after the remote MX
// accepted it and before the outcome was stored.

// leasedByOther reports whether q is leased to a server other than owner
// at now.
func (q *QueueItem) leasedByOther(owner string, now time.Time) bool {
	return q.LeaseOwner != "" && q.LeaseOwner != owner && q.LeaseUntil.After(now)
}

// LeasedElsewhere reports whether another server's worker holds q's lease
// at now (so this server must not deliver it).
func (s *Store) LeasedElsewhere(q *QueueItem, now time.Time) bool {
	return q.leasedByOther(s.id, now)
}

// QueueClaim leases to this server, until now+lease, each of ids that is
// still queued, due at now and not leased by another server, and returns
// those items as claimed (in ids order). Items another server claimed or
// already rescheduled are left out.
func (s *Store) QueueClaim(ctx context.Context, ids []uint64, now time.Time, lease time.Duration) ([]QueueItem, error) {
	var out []QueueItem
	err := s.update(ctx, func(t *Tx) error {
		out = out[:0]
		b := bucket(t.tx, "queue")
		for _, id := range ids {
			var q QueueItem
			ok, err := getJSON(b, u64(id), &q)
			if err != nil {
				return err
			}
			if !ok || q.NextAttempt.After(now) || q.leasedByOther(s.id, now) {
				continue
			}
			q.LeaseOwner, q.LeaseUntil = s.id, now.Add(lease).UTC()
			if err := putJSON(b, u64(id), &q); err != nil {
				return err
			}
			out = append(out, q)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// QueueRenew extends to now+lease the leases this server holds on ids.
// It returns the ids whose lease was lost (taken over after it expired,
// or the item is gone), which the caller should stop relying on.
func (s *Store) QueueRenew(ctx context.Context, ids []uint64, now time.Time, lease time.Duration) (lost []uint64, err error) {
	err = s.update(ctx, func(t *Tx) error {
		lost = lost[:0]
		b := bucket(t.tx, "queue")
		for _, id := range ids {
			var q QueueItem
			ok, err := getJSON(b, u64(id), &q)
			if err != nil {
				return err
			}
			if !ok || q.LeaseOwner != s.id {
				lost = append(lost, id)
				continue
			}
			q.LeaseUntil = now.Add(lease).UTC()
			if err := putJSON(b, u64(id), &q); err != nil {
				return err
			}
		}
		return nil
	})
	return lost, err
}
