package queue

import (
	"context"
	"time"

	"mailsrv/store"
)

// Store is what the runner needs of the outbound queue: its items, the
// per-server leases on them and their messages, plus local delivery of the
// bounces it writes (and the lookup that tells a local sender). *store.Store
// satisfies it.
type Store interface {
	Queue(ctx context.Context) ([]store.QueueItem, error)
	QueueGet(ctx context.Context, id uint64) (*store.QueueItem, error)
	QueueClaim(ctx context.Context, ids []uint64, now time.Time, lease time.Duration) ([]store.QueueItem, error)
	QueueRenew(ctx context.Context, ids []uint64, now time.Time, lease time.Duration) (lost []uint64, err error)
	QueueUpdate(ctx context.Context, q *store.QueueItem) error
	QueueRemove(ctx context.Context, id uint64) error
	LeasedElsewhere(q *store.QueueItem, now time.Time) bool
	OpenQueued(ctx context.Context, q *store.QueueItem) (interface {
		Read([]byte) (int, error)
		Close() error
	}, error)

	Resolve(ctx context.Context, addr string) ([]uint64, error)
	DeliverBytes(ctx context.Context, d store.Delivery, msg []byte) ([]store.Delivered, error)
}
