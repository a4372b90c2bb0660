package store

import (
	"bufio"
	"bytes"
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
}

// ParseEnvelope parses the header at the start of raw (the body may be cut
// anywhere or missing). A malformed header yields a partial envelope.
func ParseEnvelope(raw []byte) *Envelope {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil && h.Len() == 0 {
		return &Envelope{}
	}
	mh := mail.Header{Header: message(h)}
	env := &Envelope{}
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
	if id, err := mh.MessageID(); err == nil && id != "" {
		env.MessageID = "<" + id + ">"
	}
	return env
}

func addrList(mh mail.Header, key string) []Address {
	list, err := mh.AddressList(key)
	if err != nil {
		return nil
	}
	out := make([]Address, 0, len(list))
	for _, a := range list {
		mbox, host, _ := strings.Cut(a.Address, "@")
		out = append(out, Address{Name: a.Name, Mailbox: mbox, Host: host})
	}
	return out
}

// Addr formats an address as local@host.
func (a Address) Addr() string {
	if a.Host == "" {
		return a.Mailbox
	}
	return a.Mailbox + "@" + a.Host
}
