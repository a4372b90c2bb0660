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

// Order is Sort's ordering as indexes into items. The messages are
// neither copied nor changed (beyond Prepare for unprepared ones). The
// first key is copied into a contiguous array of entries which is what
// is sorted: comparing through each item's pointer to its message cost a
// cache miss per comparison on a large folder. Later keys are compared
// from the messages, for ties only. The order depends only on the
// messages and their Seq, so a caller may keep it for the same messages.
func Order(items []Item, keys []Key) []int32 {
	for i := range items {
		items[i].Prepare()
	}
	var cmps []func(a, b *Item) int
	for _, key := range keys {
		if f := comparer(key); f != nil {
			cmps = append(cmps, f)
		}
	}
	var first Key
	if len(cmps) > 0 {
		for _, k := range keys { // the first key the parser gave that compares
			if comparer(k) != nil {
				first = k
				break
			}
		}
		cmps = cmps[1:]
	}
	entries := make([]orderEntry, len(items))
	for i := range items {
		entries[i] = entryOf(&items[i], first.Name, int32(i))
	}
	dir := 1
	if first.Reverse {
		dir = -1
	}
	slices.SortFunc(entries, func(x, y orderEntry) int {
		if c := x.compare(&y); c != 0 {
			return dir * c
		}
		if len(cmps) > 0 {
			a, b := &items[x.idx], &items[y.idx]
			for _, f := range cmps {
				if c := f(a, b); c != 0 {
					return c
				}
			}
		}
		return cmp.Compare(x.seq, y.seq)
	})
	order := make([]int32, len(entries))
	for i, e := range entries {
		order[i] = e.idx
	}
	return order
}

// orderEntry is one item's first sort key: a number (seconds and
// nanoseconds of a date, or the size) or a string key, with the item's
// Seq for ties and its index.
type orderEntry struct {
	s   string
	n   int64
	ns  int32
	seq uint32
	idx int32
}

func (x *orderEntry) compare(y *orderEntry) int {
	if c := cmp.Compare(x.n, y.n); c != 0 {
		return c
	}
	if c := cmp.Compare(x.ns, y.ns); c != 0 {
		return c
	}
	return strings.Compare(x.s, y.s)
}

// entryOf is it's entry for the first key name ("" or an unknown name:
// every entry equal, so mailbox order).
func entryOf(it *Item, name string, idx int32) orderEntry {
	e := orderEntry{seq: it.Seq, idx: idx}
	k := &it.keys
	switch name {
	case "ARRIVAL":
		e.n, e.ns = it.Arrival.Unix(), int32(it.Arrival.Nanosecond())
	case "DATE":
		d := it.SentDate()
		e.n, e.ns = d.Unix(), int32(d.Nanosecond())
	case "SIZE":
		e.n = it.Size
	case "SUBJECT":
		e.s = k.Subject
	case "FROM":
		e.s = k.From
	case "TO":
		e.s = k.To
	case "CC":
		e.s = k.Cc
	case "DISPLAYFROM":
		e.s = k.DisplayFrom
	case "DISPLAYTO":
		e.s = k.DisplayTo
	}
	return e
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
