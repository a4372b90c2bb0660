package imapd

import (
	"reflect"
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
	msgs, uids, err := s.sortable(kind, c)
	if err != nil {
		return nil, err
	}
	mk := make([]mailsort.Key, len(keys))
	for i, k := range keys {
		mk[i] = mailsort.Key{Name: string(k.Key), Reverse: k.Reverse}
	}
	nums := mailsort.Sort(msgs, mk)
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
	msgs, _, err := s.sortable(kind, c)
	if err != nil {
		return nil, err
	}
	var nodes []mailsort.Node
	if alg == imap.ThreadReferences {
		nodes = mailsort.References(msgs)
	} else {
		nodes = mailsort.OrderedSubject(msgs)
	}
	return threadNodes(nodes), nil
}

func threadNodes(nodes []mailsort.Node) []imapserver.ThreadNode {
	if len(nodes) == 0 {
		return nil
	}
	out := make([]imapserver.ThreadNode, len(nodes))
	for i, n := range nodes {
		out[i] = imapserver.ThreadNode{Num: n.Num, Children: threadNodes(n.Children)}
	}
	return out
}

// sortable returns the messages matching c as mailsort input, with their
// UIDs. Sort keys come from the folder's sortCache; records not in it are
// read from the store once. References of records cached before that
// field existed are read from the message header and stored
// (store.FillReferences), so that happens once per message.
func (s *session) sortable(kind imapserver.NumKind, c *imap.SearchCriteria) ([]mailsort.Msg, []uint32, error) {
	if err := s.needSel(acl.OpRead); err != nil {
		return nil, nil, err
	}
	all := s.refs(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}})
	c = s.staticCriteria(c, all)
	cache := &s.sel.fs.sortKeys
	fresh := map[uint32]*mailsort.Msg{}
	matched := all
	if !matchesAll(c) {
		var err error
		if matched, err = s.sortMatches(all, c, fresh); err != nil {
			return nil, nil, err
		}
	}
	uids := refUIDs(matched)
	keys := cache.lookup(uids)
	var missing []uint32
	for i, k := range keys {
		if k == nil && fresh[uids[i]] == nil {
			missing = append(missing, uids[i])
		}
	}
	if err := s.loadSortKeys(missing, fresh); err != nil {
		return nil, nil, err
	}
	out := make([]mailsort.Msg, 0, len(matched))
	outUIDs := make([]uint32, 0, len(matched))
	for i, r := range matched {
		k := keys[i]
		if k == nil {
			k = fresh[r.uid]
		}
		if k == nil {
			continue // expunged meanwhile
		}
		m := *k
		m.Seq, m.Num = r.seq, r.seq
		if kind == imapserver.NumKindUID {
			m.Num = r.uid
		}
		out = append(out, m)
		outUIDs = append(outUIDs, r.uid)
	}
	if len(fresh) > 0 {
		cache.add(fresh, refUIDs(all))
	}
	return out, outUIDs, nil
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
			if !s.srv.search.Match(c, m, r.seq) {
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

// loadSortKeys reads the records of uids and prepares their keys into fresh.
func (s *session) loadSortKeys(uids []uint32, fresh map[uint32]*mailsort.Msg) error {
	var fill map[uint32][]string
	for start := 0; start < len(uids); start += fetchChunk {
		msgs, err := s.srv.st.MessageHeads(s.sel.fid, uids[start:min(start+fetchChunk, len(uids))])
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
		if err := s.srv.st.FillReferences(s.sel.fid, fill); err != nil {
			s.log.Warn("storing References of old messages", "err", err)
		}
	}
	return nil
}

// sortKeysOf prepares the sort keys of m, reading References from the
// message for a record older than the cached field.
func (s *session) sortKeysOf(m *store.Message) *mailsort.Msg {
	sm := toSortMsg(m)
	if m.Envelope == nil || m.Envelope.Version < store.EnvelopeVersion {
		if ids, err := s.srv.st.ReadReferences(m); err == nil {
			sm.Refs = ids
		}
	}
	sm.Prepare()
	return &sm
}

func toSortMsg(m *store.Message) mailsort.Msg {
	sm := mailsort.Msg{Arrival: m.InternalDate, Size: m.Size}
	e := m.Envelope
	if e == nil {
		return sm
	}
	sm.Sent, sm.Subject, sm.MessageID = e.Date, e.Subject, e.MessageID
	sm.InReplyTo, sm.Refs = e.InReplyTo, e.References
	sm.From, sm.To, sm.Cc = firstAddr(e.From), firstAddr(e.To), firstAddr(e.Cc)
	return sm
}

// firstAddr is the first address of the field's ENVELOPE list (RFC 5256
// §3 "the first ... address"): the start marker of a group counts, with
// the group's name as its mailbox ("team:;" sorts as "team", as Dovecot
// does), and so does an address without a domain ("From: d").
func firstAddr(l []store.Address) mailsort.Addr {
	for _, a := range l {
		if a.Name == "" && a.Mailbox == "" && a.Host == "" {
			continue // the end marker of a group
		}
		return mailsort.Addr{Name: a.Name, Mailbox: a.Mailbox, Host: a.Host}
	}
	return mailsort.Addr{}
}
