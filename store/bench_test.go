package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailsrv/internal/pgtest"
	"mailsrv/store/kv/pgkv"
)

var benchBody = bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n"), 48) // ~3 KiB

// BenchmarkDurableInsert measures durable message inserts (blob fsync +
// group-committed metadata) at 1 and 16 concurrent writers and reports the
// ratio to a plain single-writer "write 3 KiB file + fsync" loop on the
// same disk (fsync-baseline/s) as x-fsync-loop. The 16-writer run also
// reports x-single-writer, its rate over the 1-writer run's (target ≥ 5:
// group commit lets concurrent deliveries share the database fsync).
//
// Every run's data directory lives in the parent benchmark's temporary
// directory and is removed only at the very end: removing thousands of
// files between runs makes the next run's file creations slower on some
// file systems (ext4 without a journal avoids reusing recently freed
// inodes, and scans past them), which would tax whichever run comes second.
func BenchmarkDurableInsert(b *testing.B) { durableInsert(b, openTest) }

// BenchmarkDurableInsertPostgres is the same on PostgreSQL (store/kv/pgkv)
// on internal/pgtest's cluster, which runs with fsync=off: its commits
// cost round trips and WAL writes but no disk flush, so read the ratio to
// bbolt as an upper bound.
func BenchmarkDurableInsertPostgres(b *testing.B) {
	url := pgtest.URL(b)
	first := true
	durableInsert(b, func(t testing.TB, dir string) *Store {
		if !first {
			// A fresh database per run: the runs must not share mailboxes.
			url = pgtest.URL(t)
		}
		first = false
		db, err := pgkv.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		s, err := OpenEngine(db, dir, Options{CloseEngine: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func durableInsert(b *testing.B, openTest func(testing.TB, string) *Store) {
	base := fsyncLoopRate(b)
	parent := b.TempDir()
	var single float64
	for _, writers := range []int{1, 16} {
		b.Run(map[int]string{1: "writers=1", 16: "writers=16"}[writers], func(b *testing.B) {
			dir, err := os.MkdirTemp(parent, "run")
			if err != nil {
				b.Fatal(err)
			}
			s := openTest(b, dir)
			if err := s.AddDomain(b.Context(), Domain{Name: "example.com"}); err != nil {
				b.Fatal(err)
			}
			a, _ := s.AddUser(b.Context(), "alice@example.com", "", "h")
			var next atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						bw, err := s.NewBlob(b.Context(), 0)
						if err != nil {
							b.Error(err)
							return
						}
						bw.Write(benchBody)
						if err := bw.Sync(); err != nil {
							b.Error(err)
							return
						}
						if _, err := s.Deliver(b.Context(), Delivery{Blob: bw, Targets: []Target{{MailboxID: a.MailboxID}}}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			rate := float64(b.N) / time.Since(start).Seconds()
			b.ReportMetric(rate, "msgs/s")
			b.ReportMetric(base, "fsync-baseline/s")
			b.ReportMetric(rate/base, "x-fsync-loop")
			if writers == 1 {
				single = rate
			} else if single > 0 {
				b.ReportMetric(rate/single, "x-single-writer")
			}
		})
	}
}

// fsyncLoopRate is files/s for create + write 3 KiB + fsync, one writer.
func fsyncLoopRate(b *testing.B) float64 {
	dir := b.TempDir()
	const n = 300
	start := time.Now()
	for i := 0; i < n; i++ {
		f, err := os.Create(filepath.Join(dir, "f"+string(rune('a'+i%26))+time.Now().Format("150405.000000000")))
		if err != nil {
			b.Fatal(err)
		}
		f.Write(benchBody)
		f.Sync()
		f.Close()
	}
	return n / time.Since(start).Seconds()
}
