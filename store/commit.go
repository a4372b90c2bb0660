package store

import (
	"context"
	"errors"
	"fmt"

	"mailsrv/store/kv"
)

// maxBatch bounds one group commit so a flood of writers cannot make a
// single transaction (and its memory) arbitrarily large.
const maxBatch = 256

// Tx is a write transaction handed to update functions. Besides the engine's
// transaction it collects change events and after-commit actions, which
// run only if this request's changes were committed.
type Tx struct {
	tx          kv.Tx
	s           *Store
	events      []Event
	afterCommit []func()
}

// Publish queues an event to be delivered after commit.
func (t *Tx) Publish(ev Event) { t.events = append(t.events, ev) }

// AfterCommit queues fn to run after a successful commit (e.g. removing a
// blob file whose last reference was dropped).
func (t *Tx) AfterCommit(fn func()) { t.afterCommit = append(t.afterCommit, fn) }

type writeReq struct {
	fn   func(*Tx) error
	done chan error
}

// update runs fn in a write transaction, group-committed with concurrent
// callers. It returns after the transaction is durable (or failed). fn may
// run more than once (see the package doc) and must only touch the Tx.
//
// ctx only decides whether the write is queued: a ctx cancelled before
// that (or while the queue is full) returns ctx's error and nothing is
// written. Once queued, the request is committed in its batch under the
// committer's own context, and update waits for that outcome whatever
// happens to ctx. Returning early instead would tell a caller "failed"
// about a write that then commits: Deliver's callers abort the body after
// an error (the committed message would reference a removed body) and a
// client would retry a change that was applied. A commit takes one fsync,
// so the wait is short; shutdown waits for queued writes anyway (Close).
func (s *Store) update(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &writeReq{fn: fn, done: make(chan error, 1)}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	select {
	case s.writes <- req:
	case <-ctx.Done():
		s.closeMu.RUnlock()
		return ctx.Err()
	}
	s.closeMu.RUnlock()
	return <-req.done
}

func (s *Store) commitLoop() {
	defer s.loopWG.Done()
	for req := range s.writes {
		batch := []*writeReq{req}
	drain:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-s.writes:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.runBatch(batch)
	}
}

// runBatch commits batch in one transaction, or, if any request fails,
// each request on its own.
func (s *Store) runBatch(batch []*writeReq) {
	if len(batch) > 1 {
		if s.tryBatch(batch) {
			return
		}
	}
	for _, r := range batch {
		txs, err := s.runTx([]*writeReq{r})
		s.finish(txs, err)
		r.done <- err
	}
}

// tryBatch reports whether the whole batch committed (and was answered).
func (s *Store) tryBatch(batch []*writeReq) bool {
	txs, err := s.runTx(batch)
	if err != nil {
		return false
	}
	s.finish(txs, nil)
	for _, r := range batch {
		r.done <- nil
	}
	return true
}

// runTx runs reqs in one engine transaction and commits it; the first
// failing request rolls the whole transaction back.
func (s *Store) runTx(reqs []*writeReq) ([]*Tx, error) {
	txs := make([]*Tx, 0, len(reqs))
	// A batch serves several callers, so it runs under none of their
	// contexts (see update).
	err := s.db.Update(context.Background(), func(ktx kv.Tx) error {
		txs = txs[:0]
		for _, r := range reqs {
			t := &Tx{tx: ktx, s: s}
			if err := callSafely(r.fn, t); err != nil {
				return &requestError{err}
			}
			txs = append(txs, t)
		}
		if s.shared != nil {
			return s.shared.record(ktx, txs)
		}
		return nil
	})
	if err != nil && s.shared != nil {
		s.shared.forget(txs)
	}
	var re *requestError
	if errors.As(err, &re) {
		return nil, re.err
	}
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return txs, nil
}

// requestError marks a request function's own error, returned unchanged,
// apart from the engine's failures to begin or commit.
type requestError struct{ err error }

func (e *requestError) Error() string { return e.err.Error() }

// finish publishes events and runs after-commit actions of committed requests.
func (s *Store) finish(txs []*Tx, err error) {
	if err != nil {
		return
	}
	if s.shared != nil {
		// The pump publishes every server's events in sequence order;
		// catching up now publishes this commit's before update returns.
		s.shared.catchUp()
		for _, t := range txs {
			for _, fn := range t.afterCommit {
				fn()
			}
		}
		return
	}
	for _, t := range txs {
		for _, ev := range t.events {
			s.bus.publish(ev, s.log)
		}
		for _, fn := range t.afterCommit {
			fn()
		}
	}
}

// callSafely turns a panic in a request function into an error so that one
// bad request cannot take the committer (and the whole server) down.
func callSafely(fn func(*Tx) error, t *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("store: internal error: %v", r)
		}
	}()
	return fn(t)
}
