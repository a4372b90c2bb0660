package store

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"mailsrv/store/kv"
)

// EnvelopeVersion is the Envelope.Version ParseEnvelope writes:
// 1 = References is cached. Records of version 0 (written before) have no
// References even if the message has them.
const EnvelopeVersion = 1

// msgIDs returns the message ids of field key as "<id>", or nil.
func msgIDs(mh mail.Header, key string) []string {
	ids, err := mh.MsgIDList(key)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, "<"+id+">")
	}
	return out
}

// maxRefsHeader bounds how much of a message ReadReferences reads.
const maxRefsHeader = 1 << 20

// ReadReferences reads the References field of m from its body file, for
// a record whose Envelope predates the cached field (Version 0).
func (s *Store) ReadReferences(ctx context.Context, m *Message) ([]string, error) {
	rc, err := s.OpenMessage(ctx, m)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	h, err := textproto.ReadHeader(bufio.NewReader(io.LimitReader(rc, maxRefsHeader)))
	if err != nil && h.Len() == 0 {
		return nil, nil
	}
	return msgIDs(mail.Header{Header: message(h)}, "References"), nil
}

// FillReferences stores the References read for old records (uid → ids)
// of folder fid and marks their envelopes current, so they are read from
// the body only once. Records that changed or went meanwhile are skipped.
func (s *Store) FillReferences(ctx context.Context, fid uint64, refs map[uint32][]string) error {
	if len(refs) == 0 {
		return nil
	}
	return s.update(ctx, func(t *Tx) error {
		fm := bucket(t.tx, "msgs").Bucket(u64(fid))
		if fm == nil {
			return nil // folder gone: nothing to fill
		}
		for uid, ids := range refs {
			if err := fillOne(fm, uid, ids); err != nil {
				return err
			}
		}
		return nil
	})
}

func fillOne(fm kv.Bucket, uid uint32, ids []string) error {
	mb := fm.Bucket(bktRecords)
	var m Message
	raw := mb.Get(u32(uid))
	if raw == nil {
		return nil
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("decode message %d: %w", uid, err)
	}
	if m.Envelope == nil {
		m.Envelope = &Envelope{}
	}
	if m.Envelope.Version >= EnvelopeVersion {
		return nil
	}
	m.Envelope.References, m.Envelope.Version = ids, EnvelopeVersion
	if err := putJSON(mb, u32(uid), &m); err != nil {
		return err
	}
	return putHead(fm, &m)
}
