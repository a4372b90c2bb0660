package mailsort

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Msg is what sorting and threading need of one message; Num is the
// number reported to the client (sequence number or UID), Seq orders ties
// (mailbox order).
type Msg struct {
	Num, Seq  uint32
	Arrival   time.Time // internal date
	Sent      time.Time // Date header; zero = missing (Arrival is used)
	Size      int64
	Subject   string // MIME-decoded Subject
	From, To  Addr   // first address of each field
	Cc        Addr
	MessageID string   // "<id>", "" if none
	InReplyTo []string // "<id>", first one used
	Refs      []string // References, oldest first

	prepared bool
	keys     msgKeys
}

// msgKeys are the comparison forms of a message's string keys.
type msgKeys struct {
	subject             string // base subject
	reply               bool   // the subject had a reply/forward leader
	from, to, cc        string // mailbox, folded
	displayFrom, dispTo string
}

// Prepare computes the comparison keys once; a prepared Msg may be
// cached and copied (Num and Seq changed) for later sorts.
func (m *Msg) Prepare() {
	if m.prepared {
		return
	}
	k := &m.keys
	k.subject, k.reply = BaseSubject(m.Subject)
	k.from, k.to, k.cc = fold(m.From.Mailbox), fold(m.To.Mailbox), fold(m.Cc.Mailbox)
	k.displayFrom, k.dispTo = fold(m.From.display()), fold(m.To.display())
	m.prepared = true
}

// Addr is the first address of an address field.
type Addr struct {
	Name, Mailbox, Host string
}

// Key is a sort key; Reverse reverses it alone.
type Key struct {
	Name    string // ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM DISPLAYTO
	Reverse bool
}

// SentDate is the RFC 5256 §2.2 sent date: the Date header, or the
// internal date when it is missing or does not parse.
func (m *Msg) SentDate() time.Time {
	if m.Sent.IsZero() {
		return m.Arrival
	}
	return m.Sent
}

// display is the RFC 5957 display form of an address: the display name,
// or the addr-spec when there is none.
func (a Addr) display() string {
	if n := strings.TrimSpace(a.Name); n != "" {
		return n
	}
	if a.Host == "" {
		return a.Mailbox
	}
	return a.Mailbox + "@" + a.Host
}

// Sort orders msgs by keys (RFC 5256 §3), ties in mailbox order, and
// returns their numbers.
func Sort(msgs []Msg, keys []Key) []uint32 {
	items := make([]*Msg, len(msgs))
	for i := range msgs {
		msgs[i].Prepare()
		items[i] = &msgs[i]
	}
	slices.SortFunc(items, func(a, b *Msg) int {
		for _, key := range keys {
			var c int
			switch key.Name {
			case "ARRIVAL":
				c = a.Arrival.Compare(b.Arrival)
			case "DATE":
				c = a.SentDate().Compare(b.SentDate())
			case "SIZE":
				c = cmp.Compare(a.Size, b.Size)
			case "SUBJECT":
				c = strings.Compare(a.keys.subject, b.keys.subject)
			case "FROM":
				c = strings.Compare(a.keys.from, b.keys.from)
			case "TO":
				c = strings.Compare(a.keys.to, b.keys.to)
			case "CC":
				c = strings.Compare(a.keys.cc, b.keys.cc)
			case "DISPLAYFROM":
				c = strings.Compare(a.keys.displayFrom, b.keys.displayFrom)
			case "DISPLAYTO":
				c = strings.Compare(a.keys.dispTo, b.keys.dispTo)
			}
			if key.Reverse {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	out := make([]uint32, len(items))
	for i, m := range items {
		out[i] = m.Num
	}
	return out
}
