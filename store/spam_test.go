package store

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
)

// The junk filter's state is store data: a backup carries it into a
// restored data directory, and purging the mailbox drops it.
func TestSpamStateBackupRestoreAndBounds(t *testing.T) {
	s, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddDomain(t.Context(), Domain{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddUser(t.Context(), "alice@example.com", "", "x")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		if _, err := s.SpamTrain(t.Context(), a.MailboxID, SpamSample{Key: fmt.Sprintf("blob%03d", i), Spam: i%2 == 0,
			Tokens: []uint64{1, 2, 3, uint64(1000 + i)}, Senders: []string{"a@b.example"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SpamAddKnown(t.Context(), a.MailboxID, []string{"friend@c.example", "@c.example"}); err != nil {
		t.Fatal(err)
	}
	want, _ := s.SpamStatsOf(t.Context(), a.MailboxID)

	var buf bytes.Buffer
	if _, err := s.Snapshot(t.Context(), &buf); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := Restore(&buf, dir, nil); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, counts, err := r.SpamLookup(t.Context(), a.MailboxID, []uint64{1, 1005})
	if err != nil || got != want || counts[0] != (SpamCounts{Spam: 15, Ham: 15}) || counts[1] != (SpamCounts{Ham: 1}) {
		t.Fatalf("restored state %+v %+v (%v), want %+v", got, counts, err, want)
	}
	if k, _ := r.SpamKnown(t.Context(), a.MailboxID, []string{"friend@c.example", "@c.example", "a@b.example"}); len(k) != 3 {
		t.Fatalf("restored known senders: %v", k)
	}
}

// Pruning keeps a mailbox's token set within MaxSpamTokens, rarest first.
func TestSpamTokensBounded(t *testing.T) {
	s, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddDomain(t.Context(), Domain{Name: "example.com"})
	a, _ := s.AddUser(t.Context(), "alice@example.com", "", "x")
	const perMsg = 3000
	common := []uint64{7, 8, 9}
	for i := 0; i*perMsg < MaxSpamTokens+2*perMsg; i++ {
		toks := append([]uint64(nil), common...)
		for j := 0; j < perMsg; j++ {
			toks = append(toks, uint64(1_000_000+i*perMsg+j))
		}
		if _, err := s.SpamTrain(t.Context(), a.MailboxID, SpamSample{Key: fmt.Sprint("m", i), Spam: true, Tokens: toks}); err != nil {
			t.Fatal(err)
		}
	}
	st, counts, _ := s.SpamLookup(t.Context(), a.MailboxID, common)
	if st.Tokens > MaxSpamTokens || st.Tokens < MaxSpamTokens*8/10 {
		t.Fatalf("%d tokens kept, bound %d", st.Tokens, MaxSpamTokens)
	}
	if counts[0].Spam < 30 {
		t.Fatalf("a frequent token was pruned: %+v", counts[0])
	}
}
