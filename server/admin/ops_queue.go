package admin

import (
	"context"
	"fmt"
	"time"
)

// QueueInfo is how a queued message is shown by `queue list`.
type QueueInfo struct {
	ID          uint64    `json:"id"`
	From        string    `json:"from"`
	To          []string  `json:"to"`
	Size        int64     `json:"size"`
	Created     time.Time `json:"created"`
	NextAttempt time.Time `json:"next_attempt"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
}

type queueArgs struct {
	ID uint64 `json:"id"`
}

func (h *Handler) queueOps() map[string]OpFunc {
	return map[string]OpFunc{
		"queue.list": op(func(ctx context.Context, _ struct{}) (any, error) {
			items, err := h.Store.Queue(ctx)
			if err != nil {
				return nil, err
			}
			out := []QueueInfo{}
			for _, q := range items {
				out = append(out, QueueInfo{ID: q.ID, From: q.From, To: q.To, Size: q.Size, Created: q.Created,
					NextAttempt: q.NextAttempt, Attempts: q.Attempts, LastError: q.LastError})
			}
			return out, nil
		}),
		// queue.retry reschedules the item for now; in the running server
		// WakeQueue also starts the delivery loop at once.
		"queue.retry": op(func(ctx context.Context, a queueArgs) (any, error) {
			q, err := h.Store.QueueGet(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			q.NextAttempt = h.now().UTC()
			if err := h.Store.QueueUpdate(ctx, q); err != nil {
				return nil, err
			}
			if h.WakeQueue != nil {
				h.WakeQueue()
			}
			return Done{Message: fmt.Sprintf("queue item %d scheduled for immediate retry", a.ID)}, nil
		}),
		"queue.drop": op(func(ctx context.Context, a queueArgs) (any, error) {
			if err := h.Store.QueueRemove(ctx, a.ID); err != nil {
				return nil, err
			}
			return Done{Message: fmt.Sprintf("queue item %d dropped", a.ID)}, nil
		}),
	}
}
