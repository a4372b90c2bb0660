package mailsort

import (
	"cmp"
	"slices"
	"strconv"
)

// Node is one node of a thread tree; Num 0 is a placeholder (a message
// referenced but not among those threaded).
type Node struct {
	Num      uint32
	Children []Node
}

// OrderedSubject threads msgs by base subject (RFC 5256 §4,
// ORDEREDSUBJECT): each group's first message by sent date is the parent
// of the others; threads are ordered by their first message's sent date.
func OrderedSubject(msgs []Item) []Node {
	type item struct {
		m    *Item
		subj string
	}
	items := make([]item, len(msgs))
	for i := range msgs {
		msgs[i].Prepare()
		items[i] = item{&msgs[i], msgs[i].keys.Subject}
	}
	slices.SortFunc(items, func(a, b item) int {
		if c := cmp.Compare(a.subj, b.subj); c != 0 {
			return c
		}
		return compareSent(a.m, b.m)
	})
	var roots []Node
	var first []*Item
	for i := 0; i < len(items); {
		j := i + 1
		for j < len(items) && items[j].subj == items[i].subj {
			j++
		}
		n := Node{Num: items[i].m.Num}
		for _, it := range items[i+1 : j] {
			n.Children = append(n.Children, Node{Num: it.m.Num})
		}
		roots = append(roots, n)
		first = append(first, items[i].m)
		i = j
	}
	idx := make([]int, len(roots))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return compareSent(first[a], first[b]) })
	out := make([]Node, len(roots))
	for i, k := range idx {
		out[i] = roots[k]
	}
	return out
}

// compareSent orders by sent date, then mailbox order.
func compareSent(a, b *Item) int {
	if c := a.SentDate().Compare(b.SentDate()); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// container is a node of the REFERENCES algorithm (RFC 5256 §4).
type container struct {
	msg      *Item
	parent   *container
	children []*container // kept in insertion order, sorted in step 6
}

func (c *container) hasAncestor(a *container) bool {
	for p := c; p != nil; p = p.parent {
		if p == a {
			return true
		}
	}
	return false
}

func (c *container) removeChild(ch *container) {
	for i, x := range c.children {
		if x == ch {
			c.children = append(c.children[:i], c.children[i+1:]...)
			break
		}
	}
	ch.parent = nil
}

func (c *container) addChild(ch *container) {
	if ch.parent != nil {
		ch.parent.removeChild(ch)
	}
	ch.parent = c
	c.children = append(c.children, ch)
}

// link makes child a child of parent unless either already says
// otherwise or it would make a loop.
func link(parent, child *container, force bool) {
	if parent == child || parent.hasAncestor(child) {
		return
	}
	if child.parent != nil && !force {
		return
	}
	parent.addChild(child)
}

// References threads msgs by the REFERENCES algorithm of RFC 5256 §4
// (steps 1–6, including the merge of threads with the same base subject).
func References(msgs []Item) []Node {
	byID := make(map[string]*container, len(msgs))
	all := make([]*container, 0, len(msgs))
	get := func(id string) *container {
		c := byID[id]
		if c == nil {
			c = &container{}
			byID[id] = c
			all = append(all, c)
		}
		return c
	}
	// Step 1, in mailbox order (a duplicate Message-ID is only the
	// first message's).
	order := make([]*Item, len(msgs))
	for i := range msgs {
		order[i] = &msgs[i]
	}
	slices.SortFunc(order, func(a, b *Item) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, m := range order {
		var c *container
		if id := m.MessageID; id != "" {
			if c = get(id); c.msg != nil {
				c = nil // duplicate
			}
		}
		if c == nil {
			c = get("\x00unique" + strconv.FormatUint(uint64(m.Seq), 10))
		}
		c.msg = m
		refs := m.Refs
		if len(refs) == 0 && len(m.InReplyTo) > 0 {
			refs = m.InReplyTo[:1]
		}
		// 1A: link the references in order.
		var prev *container
		for _, r := range refs {
			rc := get(r)
			if prev != nil {
				link(prev, rc, false)
			}
			prev = rc
		}
		// 1B: the last reference is the parent, replacing any parent
		// from an earlier, truncated References field.
		if c.parent != nil {
			c.parent.removeChild(c)
		}
		if prev != nil && prev != c && !prev.hasAncestor(c) {
			prev.addChild(c)
		}
	}
	// Step 2: the root set, in creation order so placeholders are stable.
	var roots []*container
	for _, c := range all {
		if c.parent == nil {
			roots = append(roots, c)
		}
	}
	// Step 4: prune placeholders.
	roots = prune(roots, true)
	// Step 6 is needed before 5 for a placeholder's "first child"; sort
	// children now, roots after merging.
	for _, r := range roots {
		sortTree(r)
	}
	roots = mergeSubjects(roots)
	for _, r := range roots {
		sortTree(r)
	}
	slices.SortStableFunc(roots, func(a, b *container) int { return compareSent(a.first(), b.first()) })
	out := make([]Node, len(roots))
	for i, r := range roots {
		out[i] = r.node()
	}
	return out
}

// prune removes placeholders without children and promotes the children
// of the others, except at the root where only a single child is.
func prune(list []*container, root bool) []*container {
	var out []*container
	for _, c := range list {
		c.children = prune(c.children, false)
		for _, ch := range c.children {
			ch.parent = c
		}
		if c.msg != nil {
			out = append(out, c)
			continue
		}
		switch {
		case len(c.children) == 0:
		case !root || len(c.children) == 1:
			for _, ch := range c.children {
				ch.parent = c.parent
			}
			out = append(out, c.children...)
		default:
			out = append(out, c)
		}
	}
	return out
}

// first is the message c sorts by: its own, or a placeholder's first child's.
func (c *container) first() *Item {
	for c.msg == nil {
		c = c.children[0]
	}
	return c.msg
}

func sortTree(c *container) {
	for _, ch := range c.children {
		sortTree(ch)
	}
	slices.SortStableFunc(c.children, func(a, b *container) int { return compareSent(a.first(), b.first()) })
}

// mergeSubjects is step 5: root threads with the same base subject are
// gathered under one root.
func mergeSubjects(roots []*container) []*container {
	type subj struct {
		base  string
		reply bool
	}
	subjOf := func(c *container) subj {
		m := c.first()
		m.Prepare()
		b, r := m.keys.Subject, m.keys.Reply
		if c.msg == nil {
			r = false
		}
		return subj{b, r}
	}
	table := map[string]*container{}
	for _, c := range roots {
		s := subjOf(c)
		if s.base == "" {
			continue
		}
		old := table[s.base]
		if old == nil || (c.msg == nil && old.msg != nil) ||
			(old.msg != nil && c.msg != nil && subjOf(old).reply && !s.reply) {
			table[s.base] = c
		}
	}
	gone := map[*container]bool{}
	var out []*container
	for _, c := range roots {
		s := subjOf(c)
		t := table[s.base]
		if s.base == "" || t == c || t == nil {
			continue
		}
		ts := subjOf(t)
		switch {
		case t.msg == nil && c.msg == nil:
			for _, ch := range slices.Clone(c.children) {
				t.addChild(ch)
			}
			gone[c] = true
		case t.msg == nil:
			t.addChild(c)
			gone[c] = true
		case c.msg == nil:
			// Cannot happen: a placeholder wins the table slot.
			c.addChild(t)
			gone[t] = true
			table[s.base] = c
		case !ts.reply && s.reply:
			t.addChild(c)
			gone[c] = true
		default:
			d := &container{}
			dtParent := t
			// The new placeholder takes t's place in the root set.
			*d, *dtParent = *t, container{}
			d.parent = nil
			for _, ch := range d.children {
				ch.parent = d
			}
			// dtParent is now the placeholder at t's position in roots.
			dtParent.addChild(d)
			dtParent.addChild(c)
			gone[c] = true
		}
	}
	for _, c := range roots {
		if !gone[c] {
			out = append(out, c)
		}
	}
	return out
}

func (c *container) node() Node {
	n := Node{}
	if c.msg != nil {
		n.Num = c.msg.Num
	}
	for _, ch := range c.children {
		n.Children = append(n.Children, ch.node())
	}
	return n
}
