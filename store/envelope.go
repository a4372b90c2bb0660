package store

import (
	"bufio"
	"bytes"
	"mime"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Address is one parsed address of an envelope.
type Address struct {
	Name    string `json:"n,omitempty"`
	Mailbox string `json:"m,omitempty"`
	Host    string `json:"h,omitempty"`
}

// Envelope is the header cache kept per message so IMAP can answer
// ENVELOPE and header SEARCHes without opening the body.
type Envelope struct {
	Date      time.Time `json:"date,omitzero"`
	Subject   string    `json:"subject,omitempty"`
	From      []Address `json:"from,omitempty"`
	Sender    []Address `json:"sender,omitempty"`
	ReplyTo   []Address `json:"reply_to,omitempty"`
	To        []Address `json:"to,omitempty"`
	Cc        []Address `json:"cc,omitempty"`
	Bcc       []Address `json:"bcc,omitempty"`
	InReplyTo []string  `json:"in_reply_to,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	// References is the References field's message ids, oldest first
	// (THREAD=REFERENCES). Version says which fields were parsed: records
	// written before References was cached have 0 and are filled lazily
	// (envelope_refs.go).
	References []string `json:"refs,omitempty"`
	Version    uint8    `json:"v,omitempty"`
}

// ParseEnvelope parses the header at the start of raw (the body may be cut
// anywhere or missing). A malformed header yields a partial envelope.
func ParseEnvelope(raw []byte) *Envelope {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil && h.Len() == 0 {
		return &Envelope{Version: EnvelopeVersion}
	}
	mh := mail.Header{Header: message(h)}
	env := &Envelope{Version: EnvelopeVersion}
	env.Date, _ = mh.Date()
	if s, err := mh.Subject(); err == nil {
		env.Subject = s
	} else {
		env.Subject = mh.Get("Subject")
	}
	env.From = addrList(mh, "From")
	env.Sender = addrList(mh, "Sender")
	env.ReplyTo = addrList(mh, "Reply-To")
	env.To = addrList(mh, "To")
	env.Cc = addrList(mh, "Cc")
	env.Bcc = addrList(mh, "Bcc")
	if ids, err := mh.MsgIDList("In-Reply-To"); err == nil {
		for _, id := range ids {
			env.InReplyTo = append(env.InReplyTo, "<"+id+">")
		}
	}
	env.References = msgIDs(mh, "References")
	if id, err := mh.MessageID(); err == nil && id != "" {
		env.MessageID = "<" + id + ">"
	}
	return env
}

func addrList(mh mail.Header, key string) []Address {
	raw := mh.Get(key)
	if strings.ContainsRune(raw, ':') {
		if out, ok := groupAddrList(raw); ok {
			return out
		}
	}
	list, err := mh.AddressList(key)
	if err != nil {
		if list, err = mail.ParseAddressList(withoutRoutes(withoutComments(raw))); err != nil {
			if local, ok := bareLocalPart(raw); ok {
				return []Address{{Mailbox: local, Host: missingDomain}}
			}
			return nil
		}
	}
	return toAddresses(nil, list)
}

// missingDomain is the host of an address written without one ("From:
// d"), as Dovecot shows it: a NIL host would make it a group marker in
// ENVELOPE (RFC 3501 §7.4.2).
const missingDomain = "MISSING_DOMAIN"

// withoutRoutes drops the obsolete source route of an angle address
// ("<@route:user@domain>", RFC 5322 §4.4 obs-route), which net/mail
// refuses, so the address itself is kept.
func withoutRoutes(raw string) string {
	for i := 0; i+1 < len(raw); i++ {
		if raw[i] != '<' || raw[i+1] != '@' {
			continue
		}
		end := strings.IndexByte(raw[i:], '>')
		colon := strings.IndexByte(raw[i:], ':')
		if colon > 0 && (end < 0 || colon < end) {
			raw = raw[:i+1] + raw[i+colon+1:]
		}
	}
	return raw
}

// bareLocalPart reports a field that is only a local part ("d", "<d>"),
// without comments.
func bareLocalPart(raw string) (string, bool) {
	s := strings.TrimSpace(withoutComments(raw))
	if len(s) > 2 && s[0] == '<' && s[len(s)-1] == '>' {
		s = s[1 : len(s)-1]
	}
	if s == "" || strings.ContainsAny(s, " \t@<>,;:\"()[]\\") {
		return "", false
	}
	return s, true
}

func toAddresses(out []Address, list []*mail.Address) []Address {
	for _, a := range list {
		mbox, host, _ := strings.Cut(a.Address, "@")
		out = append(out, Address{Name: a.Name, Mailbox: mbox, Host: host})
	}
	return out
}

// groupAddrList parses an address list with RFC 5322 groups
// ("team: a@x, b@y;"). A group becomes what IMAP's ENVELOPE says (RFC 3501
// §7.4.2): a start marker (Mailbox = the group's name, no Host), its
// members, and an end marker (all empty). ok is false when the value has
// no group after all (a ':' inside a quoted name) or does not parse.
func groupAddrList(raw string) (out []Address, ok bool) {
	var dec mime.WordDecoder
	start, quoted, angle, comment, inGroup := 0, false, false, 0, false
	flush := func(part string) bool {
		if strings.TrimSpace(withoutComments(part)) == "" {
			return true // nothing, or only a comment: "group2: (foo) ;"
		}
		list, err := mail.ParseAddressList(part)
		if err != nil {
			if list, err = mail.ParseAddressList(withoutComments(part)); err != nil {
				return false
			}
		}
		out = toAddresses(out, list)
		return true
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case quoted:
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '(':
			comment++
		case c == ')' && comment > 0:
			comment--
		case comment > 0:
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case angle:
		case c == ':' && !inGroup:
			// The group's name is what follows the last top-level comma.
			pre := raw[start:i]
			j := strings.LastIndexByte(pre, ',')
			if !flush(pre[:max(j, 0)]) {
				return nil, false
			}
			name := strings.TrimSpace(pre[j+1:])
			if d, err := dec.DecodeHeader(name); err == nil {
				name = d
			}
			out = append(out, Address{Mailbox: strings.Trim(name, `"`)})
			inGroup, ok, start = true, true, i+1
		case c == ';' && inGroup:
			if !flush(raw[start:i]) {
				return nil, false
			}
			out = append(out, Address{}) // end of group
			inGroup, start = false, i+1
		}
	}
	if inGroup {
		// An unterminated group: end it where the value ends.
		if !flush(raw[start:]) {
			return nil, false
		}
		out = append(out, Address{})
	} else if !flush(strings.TrimLeft(raw[start:], " ,")) {
		return nil, false
	}
	return out, ok
}

// Addr formats an address as local@host.
func (a Address) Addr() string {
	if a.Host == "" {
		return a.Mailbox
	}
	return a.Mailbox + "@" + a.Host
}
