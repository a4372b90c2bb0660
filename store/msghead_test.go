package store

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"mailsrv/store/kv"
)

// viaJSON is what a message reads back as from its JSON record (the
// fields a head holds).
func viaJSON(t *testing.T, m *Message) Message {
	t.Helper()
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out Message
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return Message{UID: out.UID, Size: out.Size, InternalDate: out.InternalDate, Envelope: out.Envelope}
}

func viaHead(t *testing.T, m *Message) Message {
	t.Helper()
	out := Message{UID: m.UID}
	if err := decodeHead(encodeHead(m), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameMessage compares two decoded messages, times by instant, offset
// and location name (as ENVELOPE and INTERNALDATE print them).
func sameMessage(a, b Message) bool {
	sameTime := func(x, y time.Time) bool {
		xn, xo := x.Zone()
		yn, yo := y.Zone()
		return x.Equal(y) && xo == yo && xn == yn && x.IsZero() == y.IsZero()
	}
	if !sameTime(a.InternalDate, b.InternalDate) {
		return false
	}
	if (a.Envelope == nil) != (b.Envelope == nil) {
		return false
	}
	if a.Envelope != nil {
		if !sameTime(a.Envelope.Date, b.Envelope.Date) {
			return false
		}
		ea, eb := *a.Envelope, *b.Envelope
		ea.Date, eb.Date = time.Time{}, time.Time{}
		if !reflect.DeepEqual(ea, eb) {
			return false
		}
	}
	a.InternalDate, b.InternalDate, a.Envelope, b.Envelope = time.Time{}, time.Time{}, nil, nil
	return reflect.DeepEqual(a, b)
}

// TestHeadCodecMatchesJSON: a head decodes to the message its JSON
// record decodes to (dates keep their offset, groups their markers), and
// every truncation of a head is refused, not misread or panicked on.
func TestHeadCodecMatchesJSON(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	cases := []*Message{
		{UID: 1, Size: 0, InternalDate: time.Unix(0, 0).UTC()},
		{UID: 2, Size: 3172, InternalDate: time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC),
			Envelope: ParseEnvelope([]byte(testMsg))},
		{UID: 3, Size: 1 << 40, InternalDate: time.Date(1999, 1, 2, 3, 4, 5, 0, est), Envelope: &Envelope{
			Date: time.Date(2026, 2, 3, 4, 5, 6, 0, time.FixedZone("", 5*3600+1800)), Subject: "Re: Fwd: grüße \"quoted\" <x>",
			From: []Address{{Name: "Bob Ä", Mailbox: "bob", Host: "remote.example"}}, Sender: []Address{{Mailbox: "s", Host: "h"}},
			To: []Address{{Name: "team", Mailbox: "team"}, {Mailbox: "a", Host: "b"}, {}}, Cc: []Address{{Mailbox: "c", Host: "d"}},
			InReplyTo: []string{"<p@x>"}, MessageID: "<m@x>", References: []string{"<r1@x>", "<p@x>"}, Version: EnvelopeVersion}},
		{UID: 4, InternalDate: time.Date(2026, 6, 1, 0, 0, 0, 0, time.Local), Envelope: &Envelope{Version: EnvelopeVersion}},
	}
	for _, m := range cases {
		if got, want := viaHead(t, m), viaJSON(t, m); !sameMessage(got, want) {
			t.Errorf("message %d: head gives %+v (env %+v), JSON gives %+v (env %+v)", m.UID, got, got.Envelope, want, want.Envelope)
		}
		raw := encodeHead(m)
		for n := range len(raw) {
			var out Message
			if err := decodeHead(raw[:n], &out); err == nil {
				t.Errorf("message %d: head cut at %d of %d bytes decoded without error", m.UID, n, len(raw))
			}
		}
		if err := decodeHead(append(slices.Clone(raw), 0), &Message{}); err == nil {
			t.Errorf("message %d: trailing byte accepted", m.UID)
		}
	}
}

// headUIDs lists the UIDs that have a head in folder fid.
func headUIDs(t *testing.T, s *Store, fid uint64) []uint32 {
	t.Helper()
	return folderBucketUIDs(t, s, fid, bktHeads)
}

// folderBucketUIDs lists the UIDs keyed in sub-bucket name of folder fid
// (heads, sort keys).
func folderBucketUIDs(t *testing.T, s *Store, fid uint64, name []byte) []uint32 {
	t.Helper()
	var out []uint32
	if err := s.view(t.Context(), func(tx kv.Tx) error {
		b := bucket(tx, "msgs").Bucket(u64(fid)).Bucket(name)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			out = append(out, getU32(k))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkHeads fails unless MessageHeads of fid gives what Messages gives
// (without blob and prefix).
func checkHeads(t *testing.T, s *Store, fid uint64, uids []uint32) {
	t.Helper()
	full, err := s.Messages(t.Context(), fid, uids)
	if err != nil {
		t.Fatal(err)
	}
	heads, err := s.MessageHeads(t.Context(), fid, uids)
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != len(full) {
		t.Fatalf("MessageHeads gave %d messages, Messages %d", len(heads), len(full))
	}
	for i := range full {
		want := full[i]
		if heads[i].Blob == "" { // from the head, else the whole record
			want.Blob, want.Prefix = "", nil
		}
		if !sameMessage(heads[i], want) || heads[i].Blob != want.Blob || !slices.Equal(heads[i].Prefix, want.Prefix) {
			t.Fatalf("head of %d: %+v, record: %+v", want.UID, heads[i], want)
		}
	}
}

// TestHeadsKeptByDeliveryCopyMoveExpunge: each transaction that adds or
// removes a message keeps the folder's head index in step with its
// records, and MessageHeads answers what Messages does.
func TestHeadsKeptByDeliveryCopyMoveExpunge(t *testing.T) {
	s := newTestStore(t)
	a, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	var inbox uint64
	var uids []uint32
	for i := range 4 {
		d := deliver(t, s, fmt.Sprintf("From: n%d@remote.example\r\nSubject: s%d\r\nReferences: <r%d@x>\r\n\r\nbody\r\n", i, i, i),
			Target{MailboxID: a.MailboxID, Flags: []string{`\Seen`}})
		inbox = d[0].FolderID
		uids = append(uids, d[0].UID)
	}
	if got := headUIDs(t, s, inbox); !slices.Equal(got, uids) {
		t.Fatalf("heads after delivery: %v, want %v", got, uids)
	}
	checkHeads(t, s, inbox, uids)
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
	if got, want := headUIDs(t, s, inbox), []uint32{uids[1], uids[3]}; !slices.Equal(got, want) {
		t.Fatalf("inbox heads after move and expunge: %v, want %v", got, want)
	}
	archUIDs := []uint32{1, 2, res.DestUIDs[0]}
	if got := headUIDs(t, s, arch.ID); !slices.Equal(got, archUIDs) {
		t.Fatalf("archive heads after copy and move: %v, want %v", got, archUIDs)
	}
	checkHeads(t, s, inbox, uids)
	checkHeads(t, s, arch.ID, archUIDs)
	heads, _ := s.MessageHeads(t.Context(), arch.ID, archUIDs[2:])
	if len(heads) != 1 || heads[0].Envelope.Subject != "s2" || !slices.Equal(heads[0].Envelope.References, []string{"<r2@x>"}) ||
		!slices.Equal(heads[0].Flags, []string{`\Seen`}) || heads[0].ModSeq == 0 {
		t.Fatalf("moved message's head: %+v", heads)
	}
}

// TestHeadsBuiltLazilyForOlderData: a folder written before the index
// existed (no head bucket) is answered from its records, and the heads
// are stored then, except for records whose envelope predates References
// (they stay on the JSON path until FillReferences makes them current).
func TestHeadsBuiltLazilyForOlderData(t *testing.T) {
	s := newTestStore(t)
	a, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	var fid uint64
	var uids []uint32
	for i := range 3 {
		d := deliver(t, s, fmt.Sprintf("From: n%d@remote.example\r\nSubject: s%d\r\n\r\nbody\r\n", i, i), Target{MailboxID: a.MailboxID})
		fid = d[0].FolderID
		uids = append(uids, d[0].UID)
	}
	// As an older server left it: no heads, message 3's envelope version 0.
	if err := s.update(t.Context(), func(t *Tx) error {
		fm := bucket(t.tx, "msgs").Bucket(u64(fid))
		var m Message
		if _, err := getJSON(fm.Bucket(bktRecords), u32(uids[2]), &m); err != nil {
			return err
		}
		m.Envelope.Version = 0
		if err := putJSON(fm.Bucket(bktRecords), u32(uids[2]), &m); err != nil {
			return err
		}
		return fm.DeleteBucket(bktHeads)
	}); err != nil {
		t.Fatal(err)
	}
	checkHeads(t, s, fid, uids)
	if got := headUIDs(t, s, fid); !slices.Equal(got, uids[:2]) {
		t.Fatalf("heads after the first read: %v, want %v", got, uids[:2])
	}
	if err := s.FillReferences(t.Context(), fid, map[uint32][]string{uids[2]: {"<r@x>"}}); err != nil {
		t.Fatal(err)
	}
	if got := headUIDs(t, s, fid); !slices.Equal(got, uids) {
		t.Fatalf("heads after FillReferences: %v, want %v", got, uids)
	}
	checkHeads(t, s, fid, uids)
	words, err := s.MessageHeadsWithWords(t.Context(), fid, uids, []string{"S1"})
	if err != nil || len(words) != 1 || words[0].UID != uids[1] {
		t.Fatalf("MessageHeadsWithWords S1: %+v %v", words, err)
	}
}
