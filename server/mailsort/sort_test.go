package mailsort

import (
	"cmp"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"
)

// refOrder is the RFC 5256 §3 order by the plain definition: compare
// key by key from the prepared messages, ties in mailbox order.
func refOrder(items []Item, keys []Key) []uint32 {
	ptrs := make([]*Item, len(items))
	for i := range items {
		items[i].Prepare()
		ptrs[i] = &items[i]
	}
	slices.SortStableFunc(ptrs, func(a, b *Item) int {
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
				c = strings.Compare(a.keys.Subject, b.keys.Subject)
			case "FROM":
				c = strings.Compare(a.keys.From, b.keys.From)
			case "TO":
				c = strings.Compare(a.keys.To, b.keys.To)
			case "CC":
				c = strings.Compare(a.keys.Cc, b.keys.Cc)
			case "DISPLAYFROM":
				c = strings.Compare(a.keys.DisplayFrom, b.keys.DisplayFrom)
			case "DISPLAYTO":
				c = strings.Compare(a.keys.DisplayTo, b.keys.DisplayTo)
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
	out := make([]uint32, len(ptrs))
	for i, p := range ptrs {
		out[i] = p.Num
	}
	return out
}

// Sort (an array of first-key entries, later keys from the messages)
// gives the plain definition's order for every key, REVERSE and
// multi-key list, on messages with many ties, missing dates, dates
// before 1970 and sub-second differences.
func TestSortMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	msgs := make([]Msg, 300)
	items := make([]Item, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		m.Arrival = base.Add(time.Duration(rng.Intn(50)) * time.Second).Add(time.Duration(rng.Intn(3)))
		if rng.Intn(4) != 0 {
			m.Sent = time.Date(1960+rng.Intn(80), 1, 1, 0, 0, rng.Intn(5), rng.Intn(2), time.FixedZone("", 3600*(rng.Intn(5)-2)))
		}
		m.Size = int64(rng.Intn(20))
		m.Subject = []string{"Re: a", "a", "B", "c (fwd)", "", "ä"}[rng.Intn(6)]
		m.From = Addr{Name: []string{"", "Zed", "anna"}[rng.Intn(3)], Mailbox: fmt.Sprint("u", rng.Intn(7)), Host: "x"}
		m.To = Addr{Mailbox: fmt.Sprint("t", rng.Intn(3))}
		m.Cc = Addr{Mailbox: fmt.Sprint("c", rng.Intn(2))}
		items[i] = Item{Num: uint32(1000 + i), Seq: uint32(i + 1), Msg: m}
	}
	names := []string{"ARRIVAL", "DATE", "SIZE", "SUBJECT", "FROM", "TO", "CC", "DISPLAYFROM", "DISPLAYTO"}
	lists := [][]Key{{}}
	for _, n := range names {
		lists = append(lists, []Key{{Name: n}}, []Key{{Name: n, Reverse: true}})
	}
	for range 60 {
		var l []Key
		for range 1 + rng.Intn(3) {
			l = append(l, Key{Name: names[rng.Intn(len(names))], Reverse: rng.Intn(2) == 0})
		}
		lists = append(lists, l)
	}
	for _, keys := range lists {
		if got, want := Sort(slices.Clone(items), keys), refOrder(slices.Clone(items), keys); !slices.Equal(got, want) {
			t.Errorf("Sort %v:\n got %v\nwant %v", keys, got, want)
		}
	}
}
