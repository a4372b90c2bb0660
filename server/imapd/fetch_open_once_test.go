package imapd

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-imap/v2"

	"mailsrv/auth"
	"mailsrv/store"
)

// countingBlobs counts how often a body is opened.
type countingBlobs struct {
	store.BlobStore
	opens atomic.Int64
}

func (c *countingBlobs) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	c.opens.Add(1)
	return c.BlobStore.Open(ctx, id)
}

// A FETCH that reads a message several times (BODYSTRUCTURE, a header
// section and a part, as Thunderbird asks) opens its body once when it
// is small: with S3 bodies every open is an HTTP GET. A large one is
// still streamed per item rather than held in memory.
func TestFetchOpensSmallBodyOnce(t *testing.T) {
	dir := t.TempDir()
	files, err := store.NewFileBlobs(dir+"/blobs", true)
	if err != nil {
		t.Fatal(err)
	}
	blobs := &countingBlobs{BlobStore: files}
	st, err := store.Open(dir, store.Options{NoSync: true, Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.AddDomain(t.Context(), store.Domain{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	hash, _ := auth.HashPassword(testPassword)
	if _, err := st.AddUser(t.Context(), "alice@example.com", "alice", hash); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st}
	e.start(Options{})
	mb := e.mailbox("alice@example.com")
	small := "From: a@example.net\r\nSubject: small\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\npart one\r\n--b--\r\n"
	big := strings.Replace(small, "part one", strings.Repeat("x", 2<<20), 1)
	e.deliver(mb, "INBOX", small)
	e.deliver(mb, "INBOX", big)
	c, _ := e.dial("alice@example.com")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	fetch := func(seq uint32) *imapclientMessage {
		t.Helper()
		before := blobs.opens.Load()
		msgs, err := c.Fetch(imap.SeqSetNum(seq), &imap.FetchOptions{
			BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
			BodySection: []*imap.FetchItemBodySection{
				{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}, Peek: true},
				{Part: []int{1}, Peek: true},
			},
		}).Collect()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("fetch %d: %v %d", seq, err, len(msgs))
		}
		return &imapclientMessage{opens: blobs.opens.Load() - before, sections: len(msgs[0].BodySection), bs: msgs[0].BodyStructure != nil,
			first: string(msgs[0].FindBodySection(&imap.FetchItemBodySection{Part: []int{1}}))}
	}
	m := fetch(1)
	if m.opens != 1 || m.sections != 2 || !m.bs || m.first != "part one" {
		t.Errorf("small message: %d opens (want 1), %d sections, structure %v, part 1 %q", m.opens, m.sections, m.bs, m.first)
	}
	m = fetch(2)
	if m.opens != 3 || len(m.first) != 2<<20 {
		t.Errorf("large message: %d opens (want 3, one per item), part 1 of %d bytes", m.opens, len(m.first))
	}
}

type imapclientMessage struct {
	opens    int64
	sections int
	bs       bool
	first    string
}
