package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// maxBatch bounds one group commit so a flood of writers cannot make a
// single transaction (and its memory) arbitrarily large.
const maxBatch = 256

// Tx is a write transaction handed to update functions. Besides the bbolt
// transaction it collects change events and after-commit actions, which
// run only if this request's changes were committed.
type Tx struct {
	tx          *bolt.Tx
	s           *Store
	events      []Event
	afterCommit []func()
}

// Bolt exposes the underlying transaction.
func (t *Tx) Bolt() *bolt.Tx { return t.tx }

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
func (s *Store) update(fn func(*Tx) error) error {
	req := &writeReq{fn: fn, done: make(chan error, 1)}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return ErrClosed
	}
	s.writes <- req
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

// runTx runs reqs in one bbolt transaction and commits it.
func (s *Store) runTx(reqs []*writeReq) ([]*Tx, error) {
	btx, err := s.db.Begin(true)
	if err != nil {
		return nil, err
	}
	txs := make([]*Tx, 0, len(reqs))
	for _, r := range reqs {
		t := &Tx{tx: btx, s: s}
		if err := callSafely(r.fn, t); err != nil {
			btx.Rollback()
			return nil, err
		}
		txs = append(txs, t)
	}
	if err := btx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return txs, nil
}

// finish publishes events and runs after-commit actions of committed requests.
func (s *Store) finish(txs []*Tx, err error) {
	if err != nil {
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
