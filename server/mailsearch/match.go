// Package mailsearch is the one message-matching code of mailsrv: IMAP
// SEARCH (server/imapd) and the webmail's search (server/web/mail) both
// evaluate an imap.SearchCriteria against stored messages here, so a
// query finds the same messages in either.
//
// Header criteria on From/To/Cc/Bcc/Subject/Message-ID are answered from
// the envelope the store cached at delivery; BODY and TEXT read the
// message once and match its decoded text (text.go), kept in a bounded
// cache keyed by blob (textcache.go). Callers pick the messages to test
// and their order; EnvelopeWords gives the words store.MessagesWithWords
// can prefilter on, NeedsMeta whether flags alone suffice.
package mailsearch

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message/textproto"

	"mailsrv/store"
)

// maxSearchBody bounds how much of one message BODY/TEXT search reads.
const maxSearchBody = 8 << 20

// Opener reads a stored message (store.Store does).
type Opener interface {
	OpenMessage(ctx context.Context, m *store.Message) (io.ReadCloser, error)
}

// Searcher matches messages against search criteria. One per server: it
// holds the decoded-text cache. It is safe for concurrent use.
type Searcher struct {
	st    Opener
	texts *textCache
}

// New returns a Searcher reading message bodies through st.
func New(st Opener) *Searcher {
	return &Searcher{st: st, texts: newTextCache(textCacheBytes)}
}

// Match reports whether m, whose sequence number is seq (for SeqNum
// criteria; sets must be static, without "*" or "$"), satisfies c. The
// body is read at most once, and only if a criterion needs it.
func (s *Searcher) Match(ctx context.Context, c *imap.SearchCriteria, m *store.Message, seq uint32) bool {
	mc := &matchCtx{s: s, m: m}
	return mc.match(ctx, c, seq)
}

// EnvelopeWords returns the ASCII letter-and-digit runs of the criteria
// that every match must satisfy and that are answered from the cached
// envelope (FROM, TO, CC, BCC, SUBJECT, Message-ID at the top level, not
// under OR or NOT). matchHeader inserts only non-alphanumeric separators
// between envelope fields, so each run lies inside one stored field.
func EnvelopeWords(c *imap.SearchCriteria) []string {
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

// NeedsMeta reports whether c looks at more than flags, UIDs and
// sequence numbers (then message metadata is loaded).
func NeedsMeta(c *imap.SearchCriteria) bool {
	if !c.Since.IsZero() || !c.Before.IsZero() || !c.SentSince.IsZero() || !c.SentBefore.IsZero() ||
		len(c.Header) > 0 || len(c.Body) > 0 || len(c.Text) > 0 || c.Larger > 0 || c.Smaller > 0 {
		return true
	}
	for i := range c.Not {
		if NeedsMeta(&c.Not[i]) {
			return true
		}
	}
	for i := range c.Or {
		if NeedsMeta(&c.Or[i][0]) || NeedsMeta(&c.Or[i][1]) {
			return true
		}
	}
	return false
}

// NeedsContent reports whether c reads a message's header or body
// (BODY, TEXT, HEADER of a field the envelope does not hold, HEADER with
// an empty value); otherwise the envelope, dates, size and flags answer
// it and a message without a body (store.MessageHeads) can be matched.
func NeedsContent(c *imap.SearchCriteria) bool {
	if len(c.Body) > 0 || len(c.Text) > 0 {
		return true
	}
	for _, h := range c.Header {
		switch strings.ToLower(h.Key) {
		case "from", "to", "cc", "bcc", "subject", "message-id":
			if h.Value == "" {
				return true
			}
		default:
			return true
		}
	}
	for i := range c.Not {
		if NeedsContent(&c.Not[i]) {
			return true
		}
	}
	for i := range c.Or {
		if NeedsContent(&c.Or[i][0]) || NeedsContent(&c.Or[i][1]) {
			return true
		}
	}
	return false
}

// matchCtx evaluates criteria on one message, reading its body at most
// once and only if a criterion needs it.
type matchCtx struct {
	s      *Searcher
	m      *store.Message
	raw    []byte // whole message (up to maxSearchBody), lazily read
	loaded bool
	hdr    *textproto.Header
	// Decoded, lowercased text for BODY and TEXT (see search_text.go),
	// made on first use and shared by every criterion.
	text, htext     string
	textOK, htextOK bool
}

func (mc *matchCtx) bodyText(ctx context.Context) string {
	if !mc.textOK {
		cache := mc.s.texts
		if t, ok := cache.get(mc.m.Blob); ok {
			mc.text, mc.textOK = t, true
			return t
		}
		mc.text, mc.textOK = strings.ToLower(string(decodedBody(mc.body(ctx)))), true
		cache.put(mc.m.Blob, mc.text)
	}
	return mc.text
}

func (mc *matchCtx) headerText(ctx context.Context) string {
	if !mc.htextOK {
		mc.htext, mc.htextOK = strings.ToLower(decodedHeader(mc.body(ctx))), true
	}
	return mc.htext
}

func (mc *matchCtx) body(ctx context.Context) []byte {
	if !mc.loaded {
		mc.loaded = true
		rc, err := mc.s.st.OpenMessage(ctx, mc.m)
		if err == nil {
			mc.raw, _ = io.ReadAll(io.LimitReader(rc, maxSearchBody))
			rc.Close()
		}
	}
	return mc.raw
}

func (mc *matchCtx) header(ctx context.Context) *textproto.Header {
	if mc.hdr == nil {
		h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(mc.body(ctx))))
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

func (mc *matchCtx) match(ctx context.Context, c *imap.SearchCriteria, seq uint32) bool {
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
	if c.ModSeq != nil && m.ModSeq < c.ModSeq.ModSeq {
		return false // RFC 7162 §3.1.5: MODSEQ n matches modseq >= n
	}
	if c.Larger > 0 && m.Size <= c.Larger {
		return false
	}
	if c.Smaller > 0 && m.Size >= c.Smaller {
		return false
	}
	for _, h := range c.Header {
		if !mc.matchHeader(ctx, h.Key, h.Value) {
			return false
		}
	}
	for _, t := range c.Body {
		if !strings.Contains(mc.bodyText(ctx), strings.ToLower(t)) {
			return false
		}
	}
	for _, t := range c.Text {
		t = strings.ToLower(t)
		if !strings.Contains(mc.headerText(ctx), t) && !strings.Contains(mc.bodyText(ctx), t) {
			return false
		}
	}
	for i := range c.Not {
		if mc.match(ctx, &c.Not[i], seq) {
			return false
		}
	}
	for i := range c.Or {
		if !mc.match(ctx, &c.Or[i][0], seq) && !mc.match(ctx, &c.Or[i][1], seq) {
			return false
		}
	}
	return true
}

// matchHeader answers common header searches from the cached envelope and
// reads the message header only for other fields.
func (mc *matchCtx) matchHeader(ctx context.Context, key, value string) bool {
	if value == "" {
		// RFC 9051 §6.4.4: HEADER name "" matches every message that has
		// the field, whatever its value (and only those).
		return mc.header(ctx).Has(key)
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
		h := mc.header(ctx)
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

func hasFlag(flags []string, f string) bool {
	return slices.ContainsFunc(flags, func(x string) bool { return strings.EqualFold(x, f) })
}
