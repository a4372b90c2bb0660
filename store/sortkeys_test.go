package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"mailsrv/server/mailsort"
)

// sameSortMsg compares what SORT and THREAD read of two messages.
func sameSortMsg(a, b *mailsort.Msg) bool {
	irt := func(l []string) []string {
		if len(l) > 1 {
			return l[:1]
		}
		return l
	}
	return a.Arrival.Equal(b.Arrival) && a.Sent.Equal(b.Sent) && a.Sent.IsZero() == b.Sent.IsZero() &&
		a.Size == b.Size && a.Keys() == b.Keys() && a.MessageID == b.MessageID &&
		slices.Equal(irt(a.InReplyTo), irt(b.InReplyTo)) && slices.Equal(a.Refs, b.Refs)
}

// TestSortKeyCodec: a stored sort key decodes to the keys mailsort
// prepares from the envelope (base subject, case-mapped addresses,
// display forms, instants), every truncation is refused, and a record of
// another version reads as missing (to be rebuilt), not as keys.
func TestSortKeyCodec(t *testing.T) {
	cases := []*Message{
		{UID: 1, InternalDate: time.Unix(0, 0).UTC()},
		{UID: 2, Size: 3172, InternalDate: time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC),
			Envelope: ParseEnvelope([]byte(testMsg))},
		{UID: 3, Size: 1 << 40, InternalDate: time.Date(1999, 1, 2, 3, 4, 5, 0, time.FixedZone("EST", -5*3600)), Envelope: &Envelope{
			Date: time.Date(2026, 2, 3, 4, 5, 6, 7, time.FixedZone("", 5*3600+1800)), Subject: "Re: [list] Fwd: grüße (fwd)",
			From: []Address{{Name: "Bob Ä", Mailbox: "Bob", Host: "remote.example"}}, To: []Address{{Name: "team", Mailbox: "team"}, {Mailbox: "a", Host: "b"}, {}},
			Cc: []Address{{Mailbox: "c", Host: "d"}}, InReplyTo: []string{"<p@x>", "<q@x>"}, MessageID: "<m@x>",
			References: []string{"<r1@x>", "<p@x>"}, Version: EnvelopeVersion}},
	}
	for _, m := range cases {
		raw := encodeSortKey(m)
		var got mailsort.Msg
		if ok, err := decodeSortKey(raw, &got); !ok || err != nil {
			t.Fatalf("message %d: decode: %v %v", m.UID, ok, err)
		}
		want := SortMsg(m)
		if !sameSortMsg(&got, &want) {
			t.Errorf("message %d: stored keys %+v, prepared %+v", m.UID, got.Keys(), want.Keys())
		}
		for n := 1; n < len(raw); n++ {
			if _, err := decodeSortKey(raw[:n], &mailsort.Msg{}); err == nil {
				t.Errorf("message %d: key cut at %d of %d bytes decoded without error", m.UID, n, len(raw))
			}
		}
		if _, err := decodeSortKey(append(slices.Clone(raw), 0), &mailsort.Msg{}); err == nil {
			t.Errorf("message %d: trailing byte accepted", m.UID)
		}
		other := slices.Clone(raw)
		other[0]++
		if ok, _ := decodeSortKey(other, &mailsort.Msg{}); ok {
			t.Errorf("message %d: a record of version %d read as current", m.UID, other[0])
		}
	}
	m3 := SortMsg(cases[2])
	if k := m3.Keys(); k.Subject != "GRÜSSE" && k.Subject != "GRÜßE" || !k.Reply || k.From != "BOB" || k.To != "TEAM" || k.DisplayFrom != "BOB Ä" {
		t.Errorf("prepared keys of message 3: %+v", k)
	}
}

// keyUIDs lists the UIDs that have a sort key in folder fid.
func keyUIDs(t *testing.T, s *Store, fid uint64) []uint32 {
	t.Helper()
	return folderBucketUIDs(t, s, fid, bktSortKeys)
}

// checkSortKeys fails unless SortKeys of uids gives, for each message
// still there, the keys mailsort prepares from its record.
func checkSortKeys(t *testing.T, s *Store, fid uint64, uids []uint32) {
	t.Helper()
	full, err := s.Messages(t.Context(), fid, uids)
	if err != nil {
		t.Fatal(err)
	}
	keys, stale, err := s.SortKeys(context.Background(), fid, uids)
	if err != nil || len(stale) != 0 {
		t.Fatalf("SortKeys: %v, stale %v", err, stale)
	}
	if len(keys) != len(full) {
		t.Fatalf("SortKeys gave %d messages, Messages %d", len(keys), len(full))
	}
	for i := range full {
		want := SortMsg(&full[i])
		if keys[i].UID != full[i].UID || !sameSortMsg(&keys[i].Msg, &want) {
			t.Fatalf("sort key of %d: %+v %+v, record: %+v", full[i].UID, keys[i], keys[i].Msg.Keys(), want.Keys())
		}
	}
}

// TestSortKeysKeptAndFilled: the sort-key index follows the head index
// through delivery, COPY, MOVE and EXPUNGE; a folder without it (older
// data) is answered from heads or records and the keys stored then; a
// record older than References is named stale until FillReferences; a
// key of an older layout is rebuilt.
func TestSortKeysKeptAndFilled(t *testing.T) {
	s := newTestStore(t)
	a, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	var inbox uint64
	var uids []uint32
	for i := range 4 {
		d := deliver(t, s, fmt.Sprintf("From: N%d <N%d@Remote.example>\r\nSubject: Re: s%d\r\nDate: Mon, 0%d Jan 2024 10:00:00 +0200\r\nReferences: <r%d@x>\r\n\r\nbody\r\n", i, i, i, i+1, i),
			Target{MailboxID: a.MailboxID})
		inbox = d[0].FolderID
		uids = append(uids, d[0].UID)
	}
	if got := keyUIDs(t, s, inbox); !slices.Equal(got, uids) {
		t.Fatalf("keys after delivery: %v, want %v", got, uids)
	}
	checkSortKeys(t, s, inbox, uids)
	arch, _ := s.GetFolder(t.Context(), a.MailboxID, "Archive")
	if _, err := s.Copy(t.Context(), inbox, uids[:2], arch.ID, ""); err != nil {
		t.Fatal(err)
	}
	res, err := s.Move(t.Context(), inbox, uids[2:3], arch.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Expunge(t.Context(), inbox, uids[:1], ""); err != nil {
		t.Fatal(err)
	}
	if got, want := keyUIDs(t, s, inbox), []uint32{uids[1], uids[3]}; !slices.Equal(got, want) {
		t.Fatalf("inbox keys after move and expunge: %v, want %v", got, want)
	}
	archUIDs := []uint32{1, 2, res.DestUIDs[0]}
	if got := keyUIDs(t, s, arch.ID); !slices.Equal(got, archUIDs) {
		t.Fatalf("archive keys after copy and move: %v, want %v", got, archUIDs)
	}
	checkSortKeys(t, s, inbox, uids) // expunged ones skipped
	checkSortKeys(t, s, arch.ID, archUIDs)

	// Older data: no key index; message 1 without a head either, message
	// 3's record older than References, message 2's key of another layout.
	if err := s.update(t.Context(), func(t *Tx) error {
		fm := bucket(t.tx, "msgs").Bucket(u64(arch.ID))
		if err := fm.DeleteBucket(bktSortKeys); err != nil {
			return err
		}
		if err := fm.Bucket(bktHeads).Delete(u32(1)); err != nil {
			return err
		}
		kb, err := fm.CreateBucket(bktSortKeys)
		if err != nil {
			return err
		}
		if err := kb.Put(u32(2), []byte{sortKeyVersion + 1, 0xff}); err != nil {
			return err
		}
		var m Message
		if _, err := getJSON(fm.Bucket(bktRecords), u32(archUIDs[2]), &m); err != nil {
			return err
		}
		m.Envelope.Version = 0
		if err := putJSON(fm.Bucket(bktRecords), u32(archUIDs[2]), &m); err != nil {
			return err
		}
		return deleteHead(fm, archUIDs[2])
	}); err != nil {
		t.Fatal(err)
	}
	keys, stale, err := s.SortKeys(context.Background(), arch.ID, archUIDs)
	if err != nil || len(keys) != 2 || keys[0].UID != 1 || keys[1].UID != 2 || !slices.Equal(stale, archUIDs[2:]) {
		t.Fatalf("SortKeys of older data: %+v stale %v %v", keys, stale, err)
	}
	if got := keyUIDs(t, s, arch.ID); !slices.Equal(got, archUIDs[:2]) {
		t.Fatalf("keys stored by the first read: %v, want %v", got, archUIDs[:2])
	}
	if got := headUIDs(t, s, arch.ID); !slices.Equal(got, archUIDs[:2]) {
		t.Fatalf("heads stored by the first read: %v, want %v", got, archUIDs[:2])
	}
	if err := s.FillReferences(t.Context(), arch.ID, map[uint32][]string{archUIDs[2]: {"<r2@x>"}}); err != nil {
		t.Fatal(err)
	}
	checkSortKeys(t, s, arch.ID, archUIDs)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.SortKeys(ctx, arch.ID, archUIDs); err == nil {
		t.Errorf("SortKeys with a cancelled context succeeded")
	}
}
