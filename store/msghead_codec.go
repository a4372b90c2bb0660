package store

import (
	"encoding/binary"
	"errors"
	"time"
)

// The message head index (msghead.go) keeps, per folder, what SORT,
// THREAD, FETCH ENVELOPE/INTERNALDATE/RFC822.SIZE and envelope SEARCHes
// read of a message, in a compact binary record instead of the message's
// JSON record: decoding JSON (with the base64 trace prefix) was most of
// the time of a first SORT or FETCH ENVELOPE of a large folder (issue 19).
//
// Layout (all integers varints, strings and lists length-prefixed):
//
//	headVersion
//	internal date (time), size
//	envelope present (0/1); if 1:
//	  date (time), subject, from, sender, reply-to, to, cc, bcc (address
//	  lists: count, then name, mailbox, host), in-reply-to (string list),
//	  message-id, references (string list), envelope version
//
// A time is a zero byte for the zero time, else 1 (UTC) or 2 (another
// offset) followed by unix seconds, nanoseconds and, for 2, the offset in
// seconds. Strings are stored verbatim, so the ASCII word prefilter of
// MessagesWithWords works on a head record as it does on JSON.

// headVersion is the first byte of every head record.
const headVersion = 1

var errBadHead = errors.New("store: malformed message head record")

// encodeHead returns m's head record (UID, blob, prefix and flags are not
// part of it: the key is the UID, flags have their own bucket).
func encodeHead(m *Message) []byte {
	b := make([]byte, 0, 256)
	b = append(b, headVersion)
	b = appendTime(b, m.InternalDate)
	b = binary.AppendVarint(b, m.Size)
	e := m.Envelope
	if e == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = appendTime(b, e.Date)
	b = appendString(b, e.Subject)
	for _, l := range [][]Address{e.From, e.Sender, e.ReplyTo, e.To, e.Cc, e.Bcc} {
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, a := range l {
			b = appendString(b, a.Name)
			b = appendString(b, a.Mailbox)
			b = appendString(b, a.Host)
		}
	}
	b = appendStrings(b, e.InReplyTo)
	b = appendString(b, e.MessageID)
	b = appendStrings(b, e.References)
	return append(b, e.Version)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	// JSON (RFC 3339) keeps only the offset, and a zero one decodes as UTC.
	_, off := t.Zone()
	if off == 0 {
		b = append(b, 1)
	} else {
		b = append(b, 2)
	}
	b = binary.AppendVarint(b, t.Unix())
	b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	if off != 0 {
		b = binary.AppendVarint(b, int64(off))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, l []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(l)))
	for _, s := range l {
		b = appendString(b, s)
	}
	return b
}

// headReader decodes a head record; the first error sticks.
type headReader struct {
	b   []byte
	err error
}

func (r *headReader) fail() {
	if r.err == nil {
		r.err = errBadHead
	}
	r.b = nil
}

func (r *headReader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *headReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *headReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *headReader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// count reads a list length, each element taking at least min bytes.
func (r *headReader) count(min int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/min) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *headReader) strings() []string {
	n := r.count(1)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.string()
	}
	return out
}

func (r *headReader) addrs() []Address {
	n := r.count(3)
	if n == 0 {
		return nil
	}
	out := make([]Address, n)
	for i := range out {
		out[i] = Address{Name: r.string(), Mailbox: r.string(), Host: r.string()}
	}
	return out
}

// time reads a time as appendTime wrote it, in the location encoding/json
// gives the same instant and offset (UTC, Local when the offset is
// Local's at that instant, else a fixed zone), so a head gives the same
// Message as its JSON record.
func (r *headReader) time() time.Time {
	kind := r.byte()
	if kind == 0 || r.err != nil {
		return time.Time{}
	}
	sec, nsec := r.varint(), r.uvarint()
	if nsec >= 1e9 {
		r.fail()
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec))
	switch kind {
	case 1:
		return t.UTC()
	case 2:
		off := int(r.varint())
		l := t.In(time.Local)
		if _, o := l.Zone(); o == off {
			return l
		}
		return t.In(time.FixedZone("", off))
	}
	r.fail()
	return time.Time{}
}

// decodeHead fills m (UID and Flags excepted) from a head record.
func decodeHead(raw []byte, m *Message) error {
	r := &headReader{b: raw}
	if r.byte() != headVersion {
		return errBadHead
	}
	m.InternalDate = r.time()
	m.Size = r.varint()
	m.Envelope = nil
	if r.byte() == 1 {
		e := &Envelope{}
		e.Date = r.time()
		e.Subject = r.string()
		e.From, e.Sender, e.ReplyTo = r.addrs(), r.addrs(), r.addrs()
		e.To, e.Cc, e.Bcc = r.addrs(), r.addrs(), r.addrs()
		e.InReplyTo = r.strings()
		e.MessageID = r.string()
		e.References = r.strings()
		e.Version = r.byte()
		m.Envelope = e
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail()
	}
	return r.err
}
