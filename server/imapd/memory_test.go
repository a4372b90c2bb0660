package imapd

import (
	"io"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailsrv/store"
)

// fill delivers n small messages to folder of mbid with 8 writers (the
// store group-commits them).
func (e *env) fill(mbid uint64, folder string, n int) {
	e.t.Helper()
	var wg sync.WaitGroup
	var next atomic.Int64
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > n {
					return
				}
				bw, err := e.st.NewBlob(e.t.Context(), 0)
				if err != nil {
					errs <- err
					return
				}
				io.WriteString(bw, testMessage(i))
				if err := bw.Sync(); err != nil {
					errs <- err
					return
				}
				if _, err := e.st.Deliver(e.t.Context(), store.Delivery{Blob: bw, Targets: []store.Target{{MailboxID: mbid, Folder: folder}}}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Fatal(err)
	}
}

// FETCH 1:* FLAGS over 10k messages is served in chunks: the heap grows by
// far less than the folder's metadata would take if loaded at once.
func TestFetchFlags10kMemoryBound(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("fills 10k messages; heap figures are meaningless under -race")
	}
	const n = 10000
	e := newEnv(t)
	alice := e.mailbox("alice@example.com")
	e.fill(alice, "INBOX", n)
	c, _ := e.dial("alice@example.com")
	if sel, err := c.Select("INBOX", nil).Wait(); err != nil || sel.NumMessages != n {
		t.Fatalf("SELECT %+v %v", sel, err)
	}

	// A low GC target makes peak HeapAlloc track live memory rather than
	// uncollected garbage.
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	cmd := c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true})
	count := 0
	for m := cmd.Next(); m != nil; m = cmd.Next() {
		if _, err := m.Collect(); err != nil {
			t.Fatal(err)
		}
		count++
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
	if count != n {
		t.Fatalf("fetched %d of %d", count, n)
	}
	growth := int64(peak.Load()) - int64(base.HeapAlloc)
	t.Logf("heap growth during FETCH 1:* FLAGS of %d messages: %d KiB", n, growth/1024)
	// Loading every message's metadata at once takes several MB (see
	// the store.Messages comparison below); chunked flag reads stay far below.
	if growth > 2<<20 {
		t.Fatalf("heap grew by %d bytes", growth)
	}
	// The bound discriminates: holding all metadata at once exceeds it.
	uids := make([]uint32, n)
	for i := range uids {
		uids[i] = uint32(i + 1)
	}
	runtime.GC()
	runtime.ReadMemStats(&base)
	all, err := e.st.Messages(t.Context(), sel2fid(t, e, alice, "INBOX"), uids)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	naive := int64(after.HeapAlloc) - int64(base.HeapAlloc)
	if err != nil || len(all) != n || naive <= 2<<20 {
		t.Fatalf("naive load of %d messages: %d bytes, %v", len(all), naive, err)
	}
	t.Logf("naive all-at-once metadata: %d KiB", naive/1024)
}
