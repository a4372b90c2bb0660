// Package kvtest is the conformance suite of the store/kv contract: every
// engine (bbolt, PostgreSQL) must pass it, so that the store's code behaves
// the same on each. It checks what the store relies on: buckets and nested
// buckets (yielded with nil values), memcmp key order, cursor moves and
// deletes across page boundaries, ForEach stopping on error, NextSequence,
// rollback, snapshot isolation of readers while a writer commits, writers
// serialised across two handles, and slices valid until the transaction
// ends.
package kvtest

import (
	"context"
	"testing"

	"mailsrv/store/kv"
)

// Engine tells the suite how to get databases.
type Engine struct {
	// Open returns a fresh, empty database, closed when t ends.
	Open func(t *testing.T) kv.DB
	// Second returns another handle on db's data, as a second server
	// would open it (closed when t ends). Nil: db itself is used, from
	// concurrent goroutines (an engine of one process, like bbolt).
	Second func(t *testing.T, db kv.DB) kv.DB
}

// Run runs every conformance test against e.
func Run(t *testing.T, e Engine) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e Engine, db kv.DB)
	}{
		{"Buckets", testBuckets},
		{"NestedIteration", testNestedIteration},
		{"Order", testOrder},
		{"Cursor", testCursor},
		{"CursorDelete", testCursorDelete},
		{"CursorSeesOwnWrites", testCursorOwnWrites},
		{"ForEachStops", testForEachStops},
		{"NextSequence", testNextSequence},
		{"SetSequence", testSetSequence},
		{"Rollback", testRollback},
		{"ReadOnly", testReadOnly},
		{"Values", testValues},
		{"SnapshotIsolation", testSnapshot},
		{"SerialWriters", testSerialWriters},
		{"SlicesValidUntilEnd", testSlices},
		{"Context", testContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, e, e.Open(t))
		})
	}
}

var bg = context.Background()

func update(t *testing.T, db kv.DB, fn func(kv.Tx) error) {
	t.Helper()
	if err := db.Update(bg, fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func view(t *testing.T, db kv.DB, fn func(kv.Tx) error) {
	t.Helper()
	if err := db.View(bg, fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

// keys lists b's keys in cursor order, marking nested buckets with "/".
func keys(b kv.Bucket) []string {
	var out []string
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		s := string(k)
		if v == nil {
			s += "/"
		}
		out = append(out, s)
	}
	return out
}
