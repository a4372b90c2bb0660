package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"mailsrv/server/mailsort"
	"mailsrv/store/kv"
)

// The sort-key index (bucket "k" of each folder, next to the head index
// "h") keeps what SORT and THREAD compare, already prepared by
// server/mailsort: the base subject (RFC 5256 §2.1) and the first From,
// To and Cc addr-mailbox case-mapped, the RFC 5957 display forms, the
// arrival and sent instants, the size, and the Message-ID, first
// In-Reply-To and References threading needs. A SORT of a folder no
// session had open then does no string work and no envelope decoding: a
// cursor walk and one string per message (issues 16, 19).
//
// It is a sibling of the head index and kept by the same two functions:
// putHead writes both, deleteHead removes both, so every path that adds
// or removes a message (delivery, APPEND, COPY, MOVE, EXPUNGE, restore,
// FillReferences) keeps it in the same transaction. Older data is filled
// lazily: SortKeys builds a missing key from the head (or the JSON record)
// and stores it, so no migration scans every folder at start. A record
// whose envelope predates References (EnvelopeVersion) gets no key until
// FillReferences brings it up to date; SortKeys names it stale.
//
// Layout: sortKeyVersion; arrival (varint unix seconds, uvarint
// nanoseconds); sent (0, or 1 then seconds and nanoseconds: only the
// instant is compared); size (varint); reply (0/1); the strings subject,
// from, to, cc, display-from, display-to, message-id (uvarint length,
// bytes); in-reply-to (0 or 1 string: only the first is used);
// references (count, strings). A record of another version is rebuilt.

var bktSortKeys = []byte("k")

// sortKeyVersion changes whenever the layout or mailsort's preparation
// (base subject, case mapping) changes: records of other versions are
// rebuilt on their next read.
const sortKeyVersion = 1

var errBadSortKey = errors.New("store: malformed sort key record")

// SortKey is one message's entry of the sort-key index: its UID and the
// prepared mailsort.Msg (keys set; Subject and the addresses left empty).
type SortKey struct {
	UID uint32
	Msg mailsort.Msg
}

// SortMsg is the mailsort input for m: the first address of each field
// as RFC 5256 §3 wants it, the subject, dates, size and threading ids.
func SortMsg(m *Message) mailsort.Msg {
	sm := mailsort.Msg{Arrival: m.InternalDate, Size: m.Size}
	e := m.Envelope
	if e == nil {
		return sm
	}
	sm.Sent, sm.Subject, sm.MessageID = e.Date, e.Subject, e.MessageID
	sm.InReplyTo, sm.Refs = e.InReplyTo, e.References
	sm.From, sm.To, sm.Cc = firstAddr(e.From), firstAddr(e.To), firstAddr(e.Cc)
	return sm
}

// firstAddr is the first address of the field's ENVELOPE list (RFC 5256
// §3 "the first ... address"): the start marker of a group counts, with
// the group's name as its mailbox ("team:;" sorts as "team", as Dovecot
// does), and so does an address without a domain ("From: d").
func firstAddr(l []Address) mailsort.Addr {
	for _, a := range l {
		if a.Name == "" && a.Mailbox == "" && a.Host == "" {
			continue // the end marker of a group
		}
		return mailsort.Addr{Name: a.Name, Mailbox: a.Mailbox, Host: a.Host}
	}
	return mailsort.Addr{}
}

// encodeSortKey returns m's sort-key record.
func encodeSortKey(m *Message) []byte {
	sm := SortMsg(m)
	k := sm.Keys()
	b := make([]byte, 0, 128)
	b = append(b, sortKeyVersion)
	b = binary.AppendVarint(b, m.InternalDate.Unix())
	b = binary.AppendUvarint(b, uint64(m.InternalDate.Nanosecond()))
	if sm.Sent.IsZero() {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendVarint(b, sm.Sent.Unix())
		b = binary.AppendUvarint(b, uint64(sm.Sent.Nanosecond()))
	}
	b = binary.AppendVarint(b, m.Size)
	if k.Reply {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	for _, s := range []string{k.Subject, k.From, k.To, k.Cc, k.DisplayFrom, k.DisplayTo, sm.MessageID} {
		b = appendString(b, s)
	}
	irt := sm.InReplyTo
	if len(irt) > 1 {
		irt = irt[:1]
	}
	b = appendStrings(b, irt)
	return appendStrings(b, sm.Refs)
}

// keyReader decodes a sort-key record held in one string, so the strings
// of a message are substrings of a single allocation.
type keyReader struct {
	s   string
	err error
}

func (r *keyReader) fail() {
	if r.err == nil {
		r.err = errBadSortKey
	}
	r.s = ""
}

func (r *keyReader) byte() byte {
	if len(r.s) == 0 {
		r.fail()
		return 0
	}
	c := r.s[0]
	r.s = r.s[1:]
	return c
}

func (r *keyReader) uvarint() uint64 {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if len(r.s) == 0 {
			break
		}
		c := r.s[0]
		r.s = r.s[1:]
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	r.fail()
	return 0
}

func (r *keyReader) varint() int64 {
	u := r.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (r *keyReader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.s)) {
		r.fail()
		return ""
	}
	s := r.s[:n]
	r.s = r.s[n:]
	return s
}

func (r *keyReader) strings() []string {
	n := r.uvarint()
	if n == 0 || n > uint64(len(r.s)) {
		if n != 0 {
			r.fail()
		}
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.string()
	}
	return out
}

func (r *keyReader) instant() time.Time {
	sec, nsec := r.varint(), r.uvarint()
	if nsec >= 1e9 {
		r.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec))
}

// decodeSortKey fills m from a sort-key record; ok is false for a record
// of another version (to be rebuilt).
func decodeSortKey(raw []byte, m *mailsort.Msg) (ok bool, err error) {
	if len(raw) == 0 || raw[0] != sortKeyVersion {
		return false, nil
	}
	r := &keyReader{s: string(raw[1:])}
	m.Arrival = r.instant()
	m.Sent = time.Time{}
	if r.byte() == 1 {
		m.Sent = r.instant()
	}
	m.Size = r.varint()
	var k mailsort.Keys
	k.Reply = r.byte() == 1
	k.Subject, k.From, k.To, k.Cc = r.string(), r.string(), r.string(), r.string()
	k.DisplayFrom, k.DisplayTo = r.string(), r.string()
	m.MessageID = r.string()
	m.InReplyTo = r.strings()
	m.Refs = r.strings()
	if r.err == nil && len(r.s) != 0 {
		r.fail()
	}
	m.SetKeys(k)
	return true, r.err
}

// putSortKey stores m's sort key in folder bucket fm (putHead calls it:
// the two indexes are written together).
func putSortKey(fm kv.Bucket, m *Message) error {
	kb, err := fm.CreateBucketIfNotExists(bktSortKeys)
	if err != nil {
		return err
	}
	return kb.Put(u32(m.UID), encodeSortKey(m))
}

// deleteSortKey removes uid's sort key from folder bucket fm, if any.
func deleteSortKey(fm kv.Bucket, uid uint32) error {
	if kb := fm.Bucket(bktSortKeys); kb != nil {
		return kb.Delete(u32(uid))
	}
	return nil
}

// SortKeys returns the sort keys of the messages uids (ascending, as a
// folder's message list is) of folder fid, skipping those gone. Messages
// whose record predates the References field are not in keys but in
// stale: their References must be read from the body and stored
// (FillReferences) first. Keys missing for current records are built
// from the head index (or the record) and stored.
func (s *Store) SortKeys(ctx context.Context, fid uint64, uids []uint32) (keys []SortKey, stale []uint32, err error) {
	keys = make([]SortKey, 0, len(uids))
	var fill []*Message
	err = s.view(ctx, func(tx kv.Tx) error {
		keys, stale, fill = keys[:0], nil, nil
		fm := bucket(tx, "msgs").Bucket(u64(fid))
		if fm == nil {
			return fmt.Errorf("folder id %d: %w", fid, ErrNotFound)
		}
		var cur kv.Cursor
		if kb := fm.Bucket(bktSortKeys); kb != nil {
			cur = kb.Cursor()
		}
		w := keyWalk{cur: cur}
		for i, uid := range uids {
			if i%4096 == 4095 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			keys = append(keys, SortKey{UID: uid})
			sk := &keys[len(keys)-1]
			if raw := w.get(uid); raw != nil {
				ok, err := decodeSortKey(raw, &sk.Msg)
				if err != nil {
					return fmt.Errorf("message %d: %w", uid, err)
				}
				if ok {
					continue
				}
			}
			m, err := headOrRecord(fm, uid)
			switch {
			case err != nil:
				return err
			case m == nil: // expunged
				keys = keys[:len(keys)-1]
			case m.Envelope == nil || m.Envelope.Version < EnvelopeVersion:
				keys = keys[:len(keys)-1]
				stale = append(stale, uid)
			default:
				if _, err := decodeSortKey(encodeSortKey(m), &sk.Msg); err != nil {
					return fmt.Errorf("message %d: %w", uid, err)
				}
				fill = append(fill, m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(fill) > 0 {
		if err := s.fillSortKeys(ctx, fid, fill); err != nil {
			s.log.Warn("storing sort keys of older messages", "folder", fid, "err", err)
		}
	}
	return keys, stale, nil
}

// keyWalk reads a bucket's values for ascending keys with one cursor:
// the next key is usually the wanted one, so it seeks only when it is not.
type keyWalk struct {
	cur     kv.Cursor
	k, v    []byte
	started bool
}

// get returns uid's value, nil if none. Wanted UIDs must ascend; a lower
// one only reads as missing.
func (w *keyWalk) get(uid uint32) []byte {
	if w.cur == nil {
		return nil
	}
	want := u32(uid)
	if !w.started {
		w.started = true
		w.k, w.v = w.cur.Seek(want)
	} else if w.k != nil && bytes.Compare(w.k, want) < 0 {
		if w.k, w.v = w.cur.Next(); w.k != nil && bytes.Compare(w.k, want) < 0 {
			w.k, w.v = w.cur.Seek(want)
		}
	}
	if w.k != nil && bytes.Equal(w.k, want) {
		return w.v
	}
	return nil
}

// headOrRecord reads message uid of folder bucket fm from its head, or
// its JSON record when it has none; nil if the message is gone.
func headOrRecord(fm kv.Bucket, uid uint32) (*Message, error) {
	if hb := fm.Bucket(bktHeads); hb != nil {
		if raw := hb.Get(u32(uid)); raw != nil {
			m := &Message{UID: uid}
			if err := decodeHead(raw, m); err != nil {
				return nil, fmt.Errorf("message %d: %w", uid, err)
			}
			return m, nil
		}
	}
	raw := fm.Bucket(bktRecords).Get(u32(uid))
	if raw == nil {
		return nil, nil
	}
	m := &Message{}
	if err := json.Unmarshal(raw, m); err != nil {
		return nil, fmt.Errorf("decode message %d: %w", uid, err)
	}
	return m, nil
}

// fillSortKeys stores the sort keys (and heads) of messages SortKeys
// built, for those still in folder fid: putHead writes both, so this is
// fillHeads.
func (s *Store) fillSortKeys(ctx context.Context, fid uint64, msgs []*Message) error {
	return s.fillHeads(ctx, fid, msgs)
}
