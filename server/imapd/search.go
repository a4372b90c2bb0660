package imapd

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// maxSearchBody bounds how much of one message BODY/TEXT search reads.
const maxSearchBody = 8 << 20

func (s *session) Search(kind imapserver.NumKind, c *imap.SearchCriteria, o *imap.SearchOptions) (*imap.SearchData, error) {
	defer s.observe("SEARCH", time.Now())
	if err := s.needSel(acl.OpRead); err != nil {
		return nil, err
	}
	refs := s.refs(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}})
	c = s.staticCriteria(c, refs)
	meta := needsMeta(c)
	words := envelopeWords(c)
	var (
		d      imap.SearchData
		seqSet imap.SeqSet
		uidSet imap.UIDSet
	)
	for start := 0; start < len(refs); start += fetchChunk {
		chunk := refs[start:min(start+fetchChunk, len(refs))]
		msgs, err := s.searchChunk(chunk, meta, words)
		if err != nil {
			return nil, err
		}
		eachLoaded(chunk, msgs, func(r msgRef, m *store.Message) error {
			mc := &matchCtx{s: s, m: m}
			if !mc.match(c, r.seq) {
				return nil
			}
			uidSet.AddNum(imap.UID(r.uid))
			num := r.seq
			if kind == imapserver.NumKindUID {
				num = r.uid
			} else {
				seqSet.AddNum(r.seq)
			}
			if d.Min == 0 || num < d.Min {
				d.Min = num
			}
			d.Max = max(d.Max, num)
			d.Count++
			return nil
		})
	}
	if kind == imapserver.NumKindUID {
		d.All = uidSet
	} else {
		d.All = seqSet
	}
	if o.ReturnSave {
		s.sel.searchRes = uidSet
	}
	return &d, nil
}

// searchChunk loads what matching needs for chunk: flags only, or the
// stored metadata. With words, messages whose record lacks one of them
// are left out (they cannot match, see store.MessagesWithWords).
func (s *session) searchChunk(chunk []msgRef, meta bool, words []string) ([]store.Message, error) {
	st := s.srv.st
	if meta {
		msgs, err := st.MessagesWithWords(s.sel.fid, refUIDs(chunk), words)
		return msgs, mapStoreErr(err)
	}
	flags, err := st.FlagsOf(s.sel.fid, refUIDs(chunk))
	if err != nil {
		return nil, mapStoreErr(err)
	}
	msgs := make([]store.Message, len(flags))
	for i, f := range flags {
		msgs[i] = store.Message{UID: f.UID, Flags: f.Flags}
	}
	return msgs, nil
}

// envelopeWords returns the ASCII letter-and-digit runs of the criteria
// that every match must satisfy and that are answered from the cached
// envelope (FROM, TO, CC, BCC, SUBJECT, Message-ID at the top level, not
// under OR or NOT). matchHeader inserts only non-alphanumeric separators
// between envelope fields, so each run lies inside one stored field.
func envelopeWords(c *imap.SearchCriteria) []string {
	var words []string
	for _, h := range c.Header {
		switch strings.ToLower(h.Key) {
		case "from", "to", "cc", "bcc", "subject", "message-id":
		default:
			continue
		}
		words = append(words, strings.FieldsFunc(h.Value, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
		})...)
	}
	return words
}

// staticCriteria resolves "*" and "$" in sequence and UID sets.
func (s *session) staticCriteria(c *imap.SearchCriteria, refs []msgRef) *imap.SearchCriteria {
	out := *c
	var maxSeq, maxUID uint32
	if n := len(refs); n > 0 {
		maxSeq, maxUID = refs[n-1].seq, refs[n-1].uid
	}
	out.SeqNum = nil
	out.UID = nil
	for _, set := range c.SeqNum {
		if imap.IsSearchRes(set) {
			out.UID = append(out.UID, s.sel.searchRes)
			continue
		}
		out.SeqNum = append(out.SeqNum, staticSeq(set, maxSeq))
	}
	for _, set := range c.UID {
		if imap.IsSearchRes(set) {
			out.UID = append(out.UID, s.sel.searchRes)
			continue
		}
		out.UID = append(out.UID, staticUID(set, maxUID))
	}
	out.Not = make([]imap.SearchCriteria, len(c.Not))
	for i := range c.Not {
		out.Not[i] = *s.staticCriteria(&c.Not[i], refs)
	}
	out.Or = make([][2]imap.SearchCriteria, len(c.Or))
	for i := range c.Or {
		out.Or[i][0] = *s.staticCriteria(&c.Or[i][0], refs)
		out.Or[i][1] = *s.staticCriteria(&c.Or[i][1], refs)
	}
	return &out
}

// needsMeta reports whether c looks at more than flags, UIDs and
// sequence numbers (then message metadata is loaded).
func needsMeta(c *imap.SearchCriteria) bool {
	if !c.Since.IsZero() || !c.Before.IsZero() || !c.SentSince.IsZero() || !c.SentBefore.IsZero() ||
		len(c.Header) > 0 || len(c.Body) > 0 || len(c.Text) > 0 || c.Larger > 0 || c.Smaller > 0 {
		return true
	}
	for i := range c.Not {
		if needsMeta(&c.Not[i]) {
			return true
		}
	}
	for i := range c.Or {
		if needsMeta(&c.Or[i][0]) || needsMeta(&c.Or[i][1]) {
			return true
		}
	}
	return false
}

// matchCtx evaluates criteria on one message, reading its body at most
// once and only if a criterion needs it.
type matchCtx struct {
	s      *session
	m      *store.Message
	raw    []byte // whole message (up to maxSearchBody), lazily read
	loaded bool
	hdr    *textproto.Header
	// Decoded, lowercased text for BODY and TEXT (see search_text.go),
	// made on first use and shared by every criterion.
	text, htext     string
	textOK, htextOK bool
}

func (mc *matchCtx) bodyText() string {
	if !mc.textOK {
		cache := mc.s.srv.texts
		if t, ok := cache.get(mc.m.Blob); ok {
			mc.text, mc.textOK = t, true
			return t
		}
		mc.text, mc.textOK = strings.ToLower(string(decodedBody(mc.body()))), true
		cache.put(mc.m.Blob, mc.text)
	}
	return mc.text
}

func (mc *matchCtx) headerText() string {
	if !mc.htextOK {
		mc.htext, mc.htextOK = strings.ToLower(decodedHeader(mc.body())), true
	}
	return mc.htext
}

func (mc *matchCtx) body() []byte {
	if !mc.loaded {
		mc.loaded = true
		rc, err := mc.s.srv.st.OpenMessage(mc.m)
		if err == nil {
			mc.raw, _ = io.ReadAll(io.LimitReader(rc, maxSearchBody))
			rc.Close()
		}
	}
	return mc.raw
}

func (mc *matchCtx) header() *textproto.Header {
	if mc.hdr == nil {
		h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(mc.body())))
		if err != nil {
			h = textproto.Header{}
		}
		mc.hdr = &h
	}
	return mc.hdr
}

func dateOnly(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func addrsText(l []store.Address) string {
	var b strings.Builder
	for _, a := range l {
		b.WriteString(a.Name)
		b.WriteString(" <")
		b.WriteString(a.Addr())
		b.WriteString("> ")
	}
	return b.String()
}

func (mc *matchCtx) match(c *imap.SearchCriteria, seq uint32) bool {
	m := mc.m
	for _, set := range c.SeqNum {
		if !set.Contains(seq) {
			return false
		}
	}
	for _, set := range c.UID {
		if !set.Contains(imap.UID(m.UID)) {
			return false
		}
	}
	if !c.Since.IsZero() && dateOnly(m.InternalDate).Before(dateOnly(c.Since)) {
		return false
	}
	if !c.Before.IsZero() && !dateOnly(m.InternalDate).Before(dateOnly(c.Before)) {
		return false
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		sent := m.InternalDate
		if m.Envelope != nil && !m.Envelope.Date.IsZero() {
			sent = m.Envelope.Date
		}
		if !c.SentSince.IsZero() && dateOnly(sent).Before(dateOnly(c.SentSince)) {
			return false
		}
		if !c.SentBefore.IsZero() && !dateOnly(sent).Before(dateOnly(c.SentBefore)) {
			return false
		}
	}
	for _, f := range c.Flag {
		if !hasFlag(m.Flags, string(f)) {
			return false
		}
	}
	for _, f := range c.NotFlag {
		if hasFlag(m.Flags, string(f)) {
			return false
		}
	}
	if c.Larger > 0 && m.Size <= c.Larger {
		return false
	}
	if c.Smaller > 0 && m.Size >= c.Smaller {
		return false
	}
	for _, h := range c.Header {
		if !mc.matchHeader(h.Key, h.Value) {
			return false
		}
	}
	for _, t := range c.Body {
		if !strings.Contains(mc.bodyText(), strings.ToLower(t)) {
			return false
		}
	}
	for _, t := range c.Text {
		t = strings.ToLower(t)
		if !strings.Contains(mc.headerText(), t) && !strings.Contains(mc.bodyText(), t) {
			return false
		}
	}
	for i := range c.Not {
		if mc.match(&c.Not[i], seq) {
			return false
		}
	}
	for i := range c.Or {
		if !mc.match(&c.Or[i][0], seq) && !mc.match(&c.Or[i][1], seq) {
			return false
		}
	}
	return true
}

// matchHeader answers common header searches from the cached envelope and
// reads the message header only for other fields.
func (mc *matchCtx) matchHeader(key, value string) bool {
	if value == "" {
		// RFC 9051 §6.4.4: HEADER name "" matches every message that has
		// the field, whatever its value (and only those).
		return mc.header().Has(key)
	}
	e := mc.m.Envelope
	if e == nil {
		e = &store.Envelope{}
	}
	var text string
	switch strings.ToLower(key) {
	case "from":
		text = addrsText(e.From)
	case "to":
		text = addrsText(e.To)
	case "cc":
		text = addrsText(e.Cc)
	case "bcc":
		text = addrsText(e.Bcc)
	case "subject":
		text = e.Subject
	case "message-id":
		text = e.MessageID
	default:
		h := mc.header()
		if !h.Has(key) {
			return false
		}
		for _, v := range h.Values(key) {
			if containsFold(v, value) {
				return true
			}
		}
		return false
	}
	return containsFold(text, value)
}
