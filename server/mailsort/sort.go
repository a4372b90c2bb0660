package mailsort

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Msg is what sorting and threading need of one message. A Msg holds no
// per-request numbers (Item has them), so a prepared Msg can be cached
// and shared by concurrent sorts without copying it.
type Msg struct {
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
	keys     Keys
}

// Item is one message of a sort or threading request: Num is the number
// reported to the client (sequence number or UID), Seq orders ties
// (mailbox order).
type Item struct {
	Num, Seq uint32
	*Msg
}

// Keys are the comparison forms of a message's string keys, as Prepare
// computes them from Subject and the addresses. The store keeps them per
// message (store/sortkeys.go), so a SORT does no string work.
type Keys struct {
	Subject                string // base subject (RFC 5256 §2.1), folded
	Reply                  bool   // the subject had a reply/forward leader
	From, To, Cc           string // addr-mailbox of the first address, folded
	DisplayFrom, DisplayTo string // RFC 5957 display form, folded
}

// Prepare computes the comparison keys once; a prepared Msg may be
// cached and shared by later sorts.
func (m *Msg) Prepare() {
	if m.prepared {
		return
	}
	k := &m.keys
	k.Subject, k.Reply = BaseSubject(m.Subject)
	k.From, k.To, k.Cc = fold(m.From.Mailbox), fold(m.To.Mailbox), fold(m.Cc.Mailbox)
	k.DisplayFrom, k.DisplayTo = fold(m.From.display()), fold(m.To.display())
	m.prepared = true
}

// Keys returns m's comparison keys (preparing m if needed).
func (m *Msg) Keys() Keys {
	m.Prepare()
	return m.keys
}

// SetKeys marks m prepared with keys computed earlier by Prepare (and
// stored); Subject and the addresses may then be left empty.
func (m *Msg) SetKeys(k Keys) {
	m.keys, m.prepared = k, true
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

// Sort orders items by keys (RFC 5256 §3), ties in mailbox order, and
// returns their numbers.
func Sort(items []Item, keys []Key) []uint32 {
	order := Order(items, keys)
	out := make([]uint32, len(order))
	for i, k := range order {
		out[i] = items[k].Num
	}
	return out
}

// Order is Sort's ordering as indexes into items. It sorts an index of
// the items; the messages are neither copied nor changed (beyond Prepare
// for unprepared ones). The order depends only on the messages and their
// Seq, so a caller may keep it for the same messages.
func Order(items []Item, keys []Key) []int32 {
	for i := range items {
		items[i].Prepare()
	}
	cmps := make([]func(a, b *Item) int, 0, len(keys))
	for _, key := range keys {
		if f := comparer(key); f != nil {
			cmps = append(cmps, f)
		}
	}
	order := make([]int32, len(items))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(x, y int32) int {
		a, b := &items[x], &items[y]
		for _, f := range cmps {
			if c := f(a, b); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
	return order
}

// comparer returns the comparison of one sort key (nil for an unknown
// name, which the parser never passes), chosen once per SORT rather than
// per comparison.
func comparer(key Key) func(a, b *Item) int {
	var f func(a, b *Item) int
	switch key.Name {
	case "ARRIVAL":
		f = func(a, b *Item) int { return a.Arrival.Compare(b.Arrival) }
	case "DATE":
		f = func(a, b *Item) int { return a.SentDate().Compare(b.SentDate()) }
	case "SIZE":
		f = func(a, b *Item) int { return cmp.Compare(a.Size, b.Size) }
	case "SUBJECT":
		f = func(a, b *Item) int { return strings.Compare(a.keys.Subject, b.keys.Subject) }
	case "FROM":
		f = func(a, b *Item) int { return strings.Compare(a.keys.From, b.keys.From) }
	case "TO":
		f = func(a, b *Item) int { return strings.Compare(a.keys.To, b.keys.To) }
	case "CC":
		f = func(a, b *Item) int { return strings.Compare(a.keys.Cc, b.keys.Cc) }
	case "DISPLAYFROM":
		f = func(a, b *Item) int { return strings.Compare(a.keys.DisplayFrom, b.keys.DisplayFrom) }
	case "DISPLAYTO":
		f = func(a, b *Item) int { return strings.Compare(a.keys.DisplayTo, b.keys.DisplayTo) }
	default:
		return nil
	}
	if key.Reverse {
		return func(a, b *Item) int { return -f(a, b) }
	}
	return f
}
