package server

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"mailsrv/server/admin"
)

// retryQueued overrides the offline queue.retry: reschedule now and wake
// the delivery loop so the attempt starts at once.
func (s *Server) retryQueued(ctx context.Context, raw json.RawMessage) (any, error) {
	var a struct {
		ID uint64 `json:"id"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("bad arguments: %w", err)
	}
	q, err := s.store.QueueGet(a.ID)
	if err != nil {
		return nil, err
	}
	q.NextAttempt = time.Now().UTC()
	if err := s.store.QueueUpdate(q); err != nil {
		return nil, err
	}
	s.wake()
	return admin.Done{Message: fmt.Sprintf("queue item %d is being retried now", a.ID)}, nil
}
