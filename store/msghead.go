package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"mailsrv/store/kv"
)

// bktHeads is the per-folder message head index (msghead_codec.go):
// UID → head record. It is kept in the transactions that add and remove
// messages (addMessageFrom: delivery, APPEND, COPY, MOVE, restore;
// removeMessage: EXPUNGE, MOVE) and built lazily for older data: a
// message without a head is read from its JSON record once and its head
// stored (MessageHeads), so no migration scans every folder at start.
// Only records whose envelope is current (EnvelopeVersion) get a head; the
// others are read from JSON until FillReferences brings them up to date.
var bktHeads = []byte("h")

// putHead stores m's head and its sort key (store/sortkeys.go) in folder
// bucket fm.
func putHead(fm kv.Bucket, m *Message) error {
	if m.Envelope == nil || m.Envelope.Version < EnvelopeVersion {
		return nil // read from the JSON record until it is current
	}
	hb, err := fm.CreateBucketIfNotExists(bktHeads)
	if err != nil {
		return err
	}
	if err := hb.Put(u32(m.UID), encodeHead(m)); err != nil {
		return err
	}
	return putSortKey(fm, m)
}

// deleteHead removes uid's head and sort key from folder bucket fm, if any.
func deleteHead(fm kv.Bucket, uid uint32) error {
	if hb := fm.Bucket(bktHeads); hb != nil {
		if err := hb.Delete(u32(uid)); err != nil {
			return err
		}
	}
	return deleteSortKey(fm, uid)
}

// MessageHeads returns, in the order given, the messages of uids (missing
// ones skipped) with what the head index holds: UID, internal date, size,
// envelope, flags and modseq, but no Blob and no Prefix, so such a
// message cannot be used to read a body. It is what SORT, THREAD, FETCH
// ENVELOPE and envelope SEARCHes need, decoded without JSON. Messages that
// have no head yet are read whole from their records (so an old envelope
// can still be completed from the body) and their heads stored.
func (s *Store) MessageHeads(ctx context.Context, fid uint64, uids []uint32) ([]Message, error) {
	return s.messageHeads(ctx, fid, uids, nil)
}

// MessageHeadsWithWords is MessageHeads filtered like MessagesWithWords:
// only messages whose head (or record) contains every one of words.
func (s *Store) MessageHeadsWithWords(ctx context.Context, fid uint64, uids []uint32, words []string) ([]Message, error) {
	return s.messageHeads(ctx, fid, uids, wordsFilter(words))
}

func (s *Store) messageHeads(ctx context.Context, fid uint64, uids []uint32, keep func(raw []byte) bool) ([]Message, error) {
	out := make([]Message, 0, len(uids))
	var fill []*Message
	err := s.view(ctx, func(tx kv.Tx) error {
		fm := bucket(tx, "msgs").Bucket(u64(fid))
		if fm == nil {
			return fmt.Errorf("folder id %d: %w", fid, ErrNotFound)
		}
		mb, fb, hb, q := fm.Bucket(bktRecords), fm.Bucket(bktFlags), fm.Bucket(bktHeads), fm.Bucket(bktModSeq)
		for _, uid := range uids {
			var m Message
			var raw []byte
			if hb != nil {
				raw = hb.Get(u32(uid))
			}
			if raw != nil {
				if keep != nil && !keep(raw) {
					continue
				}
				if err := decodeHead(raw, &m); err != nil {
					return fmt.Errorf("message %d: %w", uid, err)
				}
				m.UID = uid
			} else {
				if raw = mb.Get(u32(uid)); raw == nil {
					continue
				}
				if err := json.Unmarshal(raw, &m); err != nil {
					return fmt.Errorf("decode message %d: %w", uid, err)
				}
				if m.Envelope != nil && m.Envelope.Version >= EnvelopeVersion {
					fill = append(fill, &Message{UID: m.UID, Size: m.Size, InternalDate: m.InternalDate, Envelope: m.Envelope})
				}
				if keep != nil && !keep(raw) {
					continue
				}
			}
			m.Flags = splitFlags(fb.Get(u32(uid)))
			m.ModSeq = modSeqOf(q, uid)
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(fill) > 0 {
		if err := s.fillHeads(ctx, fid, fill); err != nil {
			s.log.Warn("storing message heads of older messages", "folder", fid, "err", err)
		}
	}
	return out, nil
}

// fillHeads stores the heads of messages read from their records
// (MessageHeads), for those still in folder fid.
func (s *Store) fillHeads(ctx context.Context, fid uint64, msgs []*Message) error {
	return s.update(ctx, func(t *Tx) error {
		fm := bucket(t.tx, "msgs").Bucket(u64(fid))
		if fm == nil {
			return nil // folder gone
		}
		mb := fm.Bucket(bktRecords)
		for _, m := range msgs {
			if mb.Get(u32(m.UID)) == nil {
				continue // expunged meanwhile
			}
			if err := putHead(fm, m); err != nil {
				return err
			}
		}
		return nil
	})
}

// wordsFilter returns the record filter of MessagesWithWords (nil: keep
// all): true if the raw record, JSON or head, holds every ASCII letter and
// digit run of words in any letter case. Both encodings store strings
// verbatim as UTF-8 (encoding/json writes no \u escapes for these runes).
func wordsFilter(words []string) func(raw []byte) bool {
	var needles [][]byte
	for _, w := range words {
		if w != "" && isASCIIAlnum(w) {
			needles = append(needles, []byte(strings.ToLower(w)))
		}
	}
	if len(needles) == 0 {
		return nil
	}
	var lower []byte
	return func(raw []byte) bool {
		if bytes.Contains(raw, []byte("\u212a")) || bytes.Contains(raw, []byte("\u0130")) {
			return true
		}
		lower = append(lower[:0], raw...)
		for i, c := range lower {
			if 'A' <= c && c <= 'Z' {
				lower[i] = c + 'a' - 'A'
			}
		}
		for _, n := range needles {
			if !bytes.Contains(lower, n) {
				return false
			}
		}
		return true
	}
}
