package imapd

import (
	"reflect"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailsrv/auth/acl"
	"mailsrv/server/mailsearch"
	"mailsrv/server/mailsort"
	"mailsrv/store"
)

// SORT and THREAD (RFC 5256, 5957, 5267): the messages matching the
// search criteria (the SEARCH code, mailsearch.Searcher) are ordered by
// server/mailsort from the envelope the store cached at delivery.

var (
	_ imapserver.SessionSort   = (*session)(nil)
	_ imapserver.SessionThread = (*session)(nil)
)

func (s *session) Sort(kind imapserver.NumKind, keys []imapserver.SortCriterion, c *imap.SearchCriteria, o *imapserver.SortOptions) ([]uint32, error) {
	defer s.observe("SORT", time.Now())
	matched, fresh, err := s.sortMatched(c)
	if err != nil {
		return nil, err
	}
	mk := make([]mailsort.Key, len(keys))
	var spec strings.Builder
	for i, k := range keys {
		mk[i] = mailsort.Key{Name: string(k.Key), Reverse: k.Reverse}
		if k.Reverse {
			spec.WriteByte('-')
		}
		spec.WriteString(string(k.Key) + " ")
	}
	uids := refUIDs(matched)
	cache := &s.sel.fs.sortKeys
	order := cache.order(spec.String(), uids)
	if order == nil {
		items, err := s.sortItems(kind, matched, fresh)
		if err != nil {
			return nil, err
		}
		if len(items) != len(matched) { // expunged meanwhile: not kept
			return mailsort.Sort(items, mk), nil
		}
		order = mailsort.Order(items, mk)
		cache.putOrder(spec.String(), uids, order)
	}
	nums := make([]uint32, len(order))
	for i, k := range order {
		if kind == imapserver.NumKindUID {
			nums[i] = matched[k].uid
		} else {
			nums[i] = matched[k].seq
		}
	}
	if o.Return.ReturnSave {
		var set imap.UIDSet
		for _, uid := range uids {
			set.AddNum(imap.UID(uid))
		}
		s.sel.searchRes = set
	}
	return nums, nil
}

func (s *session) ThreadAlgorithms() []imap.ThreadAlgorithm {
	return []imap.ThreadAlgorithm{imap.ThreadOrderedSubject, imap.ThreadReferences}
}

func (s *session) Thread(kind imapserver.NumKind, alg imap.ThreadAlgorithm, c *imap.SearchCriteria) ([]imapserver.ThreadNode, error) {
	defer s.observe("THREAD", time.Now())
	matched, fresh, err := s.sortMatched(c)
	if err != nil {
		return nil, err
	}
	// The trees are kept like SORT orders, numbered by position in
	// matched (Num i+1; 0 is a placeholder), as they depend only on the
	// messages threaded.
	spec := "THREAD " + string(alg)
	uids := refUIDs(matched)
	cache := &s.sel.fs.sortKeys
	nodes := cache.threads(spec, uids)
	if nodes == nil {
		msgs, err := s.sortItems(kind, matched, fresh)
		if err != nil {
			return nil, err
		}
		kept := len(msgs) == len(matched) // else expunged meanwhile: not kept
		if kept {
			for i := range msgs {
				msgs[i].Num = uint32(i + 1)
			}
		}
		if alg == imap.ThreadReferences {
			nodes = mailsort.References(msgs)
		} else {
			nodes = mailsort.OrderedSubject(msgs)
		}
		if !kept {
			return threadNodes(nodes, func(n uint32) uint32 { return n }), nil
		}
		cache.putThreads(spec, uids, nodes)
	}
	return threadNodes(nodes, func(i uint32) uint32 {
		if i == 0 {
			return 0
		}
		if kind == imapserver.NumKindUID {
			return matched[i-1].uid
		}
		return matched[i-1].seq
	}), nil
}

// threadNodes converts a thread tree, numbering its messages by num.
func threadNodes(nodes []mailsort.Node, num func(uint32) uint32) []imapserver.ThreadNode {
	if len(nodes) == 0 {
		return nil
	}
	out := make([]imapserver.ThreadNode, len(nodes))
	for i, n := range nodes {
		out[i] = imapserver.ThreadNode{Num: num(n.Num), Children: threadNodes(n.Children, num)}
	}
	return out
}

// sortMatched returns the selected folder's messages matching c, and the
// sort keys the matching had to prepare (messages it loaded) by UID.
func (s *session) sortMatched(c *imap.SearchCriteria) ([]msgRef, map[uint32]*mailsort.Msg, error) {
	if err := s.needSel(acl.OpRead); err != nil {
		return nil, nil, err
	}
	all := s.refs(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}})
	c = s.staticCriteria(c, all)
	fresh := map[uint32]*mailsort.Msg{}
	if matchesAll(c) {
		return all, fresh, nil
	}
	matched, err := s.sortMatches(all, c, fresh)
	return matched, fresh, err
}

// sortItems returns matched as mailsort input. Sort keys come from the
// folder's sortCache, then fresh (prepared by the search); keys in
// neither are read from the store's sort-key index (store.SortKeys)
// once. References of records cached before that field existed are read
// from the message header and stored (store.FillReferences), so that
// happens once per message. The cached keys are shared, never copied:
// each request only pairs them with its numbers (mailsort.Item).
// Messages expunged meanwhile are left out.
func (s *session) sortItems(kind imapserver.NumKind, matched []msgRef, fresh map[uint32]*mailsort.Msg) ([]mailsort.Item, error) {
	cache := &s.sel.fs.sortKeys
	uids := refUIDs(matched)
	keys := cache.lookup(uids)
	var added []keyed
	var missing []uint32
	for i, k := range keys {
		if k != nil {
			continue
		}
		if f := fresh[uids[i]]; f != nil {
			keys[i] = f
			added = append(added, keyed{uids[i], f})
			continue
		}
		missing = append(missing, uids[i])
	}
	if len(missing) > 0 {
		stored, stale, err := s.srv.st.SortKeys(s.ctx, s.sel.fid, missing)
		if err != nil {
			return nil, mapStoreErr(err)
		}
		more := map[uint32]*mailsort.Msg{}
		if err := s.loadSortKeys(stale, more); err != nil {
			return nil, err
		}
		j := 0 // stored ascends, as missing and uids do
		for i, k := range keys {
			if k != nil {
				continue
			}
			for j < len(stored) && stored[j].UID < uids[i] {
				j++
			}
			if j < len(stored) && stored[j].UID == uids[i] {
				keys[i] = &stored[j].Msg
			} else if m := more[uids[i]]; m != nil {
				keys[i] = m
			} else {
				continue // expunged meanwhile
			}
			added = append(added, keyed{uids[i], keys[i]})
		}
	}
	out := make([]mailsort.Item, 0, len(matched))
	for i, r := range matched {
		if keys[i] == nil {
			continue // expunged meanwhile
		}
		it := mailsort.Item{Num: r.seq, Seq: r.seq, Msg: keys[i]}
		if kind == imapserver.NumKindUID {
			it.Num = r.uid
		}
		out = append(out, it)
	}
	if len(added) > 0 {
		cache.add(added, s.liveUIDs())
	}
	return out, nil
}

// matchesAll reports whether c is ALL (no condition at all).
// Compared as a whole so a criterion added to imap.SearchCriteria later
// is never ignored.
func matchesAll(c *imap.SearchCriteria) bool {
	z := *c
	if len(z.Not) == 0 {
		z.Not = nil
	}
	if len(z.Or) == 0 {
		z.Or = nil
	}
	if len(z.SeqNum) == 0 {
		z.SeqNum = nil
	}
	if len(z.UID) == 0 {
		z.UID = nil
	}
	return reflect.DeepEqual(z, imap.SearchCriteria{})
}

// sortMatches runs the SEARCH matching over all; records it had to load
// are prepared into fresh.
func (s *session) sortMatches(all []msgRef, c *imap.SearchCriteria, fresh map[uint32]*mailsort.Msg) ([]msgRef, error) {
	need, words := searchNeeds(c), mailsearch.EnvelopeWords(c)
	var out []msgRef
	for start := 0; start < len(all); start += fetchChunk {
		chunk := all[start:min(start+fetchChunk, len(all))]
		msgs, err := s.searchChunk(chunk, need, words)
		if err != nil {
			return nil, err
		}
		eachLoaded(chunk, msgs, func(r msgRef, m *store.Message) error {
			if !s.srv.search.Match(s.ctx, c, m, r.seq) {
				return nil
			}
			if need != needFlags {
				fresh[m.UID] = s.sortKeysOf(m)
			}
			out = append(out, r)
			return nil
		})
	}
	return out, nil
}

// loadSortKeys reads the records of uids (older than the References
// field: store.SortKeys names them stale) and prepares their keys into
// fresh.
func (s *session) loadSortKeys(uids []uint32, fresh map[uint32]*mailsort.Msg) error {
	var fill map[uint32][]string
	for start := 0; start < len(uids); start += fetchChunk {
		msgs, err := s.srv.st.MessageHeads(s.ctx, s.sel.fid, uids[start:min(start+fetchChunk, len(uids))])
		if err != nil {
			return mapStoreErr(err)
		}
		for i := range msgs {
			k := s.sortKeysOf(&msgs[i])
			if e := msgs[i].Envelope; e == nil || e.Version < store.EnvelopeVersion {
				if fill == nil {
					fill = map[uint32][]string{}
				}
				fill[msgs[i].UID] = k.Refs
			}
			fresh[msgs[i].UID] = k
		}
	}
	if len(fill) > 0 {
		if err := s.srv.st.FillReferences(s.ctx, s.sel.fid, fill); err != nil {
			s.log.Warn("storing References of old messages", "err", err)
		}
	}
	return nil
}

// sortKeysOf prepares the sort keys of m, reading References from the
// message for a record older than the cached field.
func (s *session) sortKeysOf(m *store.Message) *mailsort.Msg {
	sm := store.SortMsg(m)
	if m.Envelope == nil || m.Envelope.Version < store.EnvelopeVersion {
		if ids, err := s.srv.st.ReadReferences(s.ctx, m); err == nil {
			sm.Refs = ids
		}
	}
	sm.Prepare()
	return &sm
}

// liveUIDs are the selected folder's UIDs (the sort cache drops entries
// of others when they pile up).
func (s *session) liveUIDs() []uint32 {
	return refUIDs(s.refs(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}))
}
