package imapd

import (
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailsrv/auth/acl"
	"mailsrv/server/mailsearch"
	"mailsrv/store"
)

func (s *session) Search(kind imapserver.NumKind, c *imap.SearchCriteria, o *imap.SearchOptions) (*imap.SearchData, error) {
	defer s.observe("SEARCH", time.Now())
	if err := s.needSel(acl.OpRead); err != nil {
		return nil, err
	}
	refs := s.refs(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}})
	c = s.staticCriteria(c, refs)
	need, words := searchNeeds(c), mailsearch.EnvelopeWords(c)
	// With MODSEQ in the criteria the answer carries the highest modseq
	// of the matches (RFC 7162 §3.1.5).
	modSeq := usesModSeq(c)
	var (
		d      imap.SearchData
		seqSet imap.SeqSet
		uidSet imap.UIDSet
		// The first and last match (refs are in ascending order), for
		// RETURN (MIN/MAX) without ALL or COUNT.
		first, last struct {
			uid    uint32
			modSeq uint64
		}
	)
	for start := 0; start < len(refs); start += fetchChunk {
		chunk := refs[start:min(start+fetchChunk, len(refs))]
		msgs, err := s.searchChunk(chunk, need, words)
		if err != nil {
			return nil, err
		}
		eachLoaded(chunk, msgs, func(r msgRef, m *store.Message) error {
			m.Flags = s.sel.recent.flags(r.uid, m.Flags)
			if !s.srv.search.Match(s.ctx, c, m, r.seq) {
				return nil
			}
			uidSet.AddNum(imap.UID(r.uid))
			num := r.seq
			if kind == imapserver.NumKindUID {
				num = r.uid
			} else {
				seqSet.AddNum(r.seq)
			}
			if d.Min == 0 || num < d.Min {
				d.Min = num
				first.uid, first.modSeq = r.uid, m.ModSeq
			}
			last.uid, last.modSeq = r.uid, m.ModSeq
			d.Max = max(d.Max, num)
			d.Count++
			if modSeq {
				d.ModSeq = max(d.ModSeq, m.ModSeq)
			}
			return nil
		})
	}
	if kind == imapserver.NumKindUID {
		d.All = uidSet
	} else {
		d.All = seqSet
	}
	if minMaxOnly := (o.ReturnMin || o.ReturnMax) && !o.ReturnAll && !o.ReturnCount; minMaxOnly && d.Count > 0 {
		// Only the MIN and/or MAX message is returned: MODSEQ is the
		// highest of those (RFC 4731 §3.2 with RFC 7162 §3.1.5), and
		// SAVE keeps just them (RFC 5182 §2.1).
		var ms uint64
		uidSet = imap.UIDSet{}
		if o.ReturnMin {
			ms = first.modSeq
			uidSet.AddNum(imap.UID(first.uid))
		}
		if o.ReturnMax {
			ms = max(ms, last.modSeq)
			uidSet.AddNum(imap.UID(last.uid))
		}
		if modSeq {
			d.ModSeq = ms
		}
	}
	if o.ReturnSave {
		s.sel.searchRes = uidSet
	}
	return &d, nil
}

// searchNeed is what matching criteria must load of each message.
type searchNeed int

const (
	needFlags   searchNeed = iota // UIDs, flags, modseq
	needHeads                     // and the envelope, dates and size (store.MessageHeads)
	needRecords                   // and the body (store.Messages)
)

func searchNeeds(c *imap.SearchCriteria) searchNeed {
	switch {
	case !mailsearch.NeedsMeta(c):
		return needFlags
	case mailsearch.NeedsContent(c):
		return needRecords
	}
	return needHeads
}

// searchChunk loads what matching needs for chunk. With words, messages
// whose record lacks one of them are left out (they cannot match, see
// store.MessagesWithWords).
func (s *session) searchChunk(chunk []msgRef, need searchNeed, words []string) ([]store.Message, error) {
	st := s.srv.st
	switch need {
	case needHeads:
		msgs, err := st.MessageHeadsWithWords(s.ctx, s.sel.fid, refUIDs(chunk), words)
		if err == nil {
			err = st.OverlayMessages(s.ctx, s.sel.fid, msgs, s.sel.viewer)
		}
		return msgs, mapStoreErr(err)
	case needRecords:
		msgs, err := st.MessagesWithWords(s.ctx, s.sel.fid, refUIDs(chunk), words)
		if err == nil {
			err = st.OverlayMessages(s.ctx, s.sel.fid, msgs, s.sel.viewer)
		}
		return msgs, mapStoreErr(err)
	}
	flags, err := st.FlagsOfAs(s.ctx, s.sel.fid, refUIDs(chunk), s.sel.viewer)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	msgs := make([]store.Message, len(flags))
	for i, f := range flags {
		msgs[i] = store.Message{UID: f.UID, Flags: f.Flags, ModSeq: f.ModSeq}
	}
	return msgs, nil
}

// staticCriteria resolves "*" and "$" in sequence and UID sets.
func (s *session) staticCriteria(c *imap.SearchCriteria, refs []msgRef) *imap.SearchCriteria {
	out := *c
	var maxSeq, maxUID uint32
	if n := len(refs); n > 0 {
		maxSeq, maxUID = refs[n-1].seq, refs[n-1].uid
	}
	out.SeqNum = nil
	out.UID = nil
	for _, set := range c.SeqNum {
		if imap.IsSearchRes(set) {
			out.UID = append(out.UID, s.sel.searchRes)
			continue
		}
		out.SeqNum = append(out.SeqNum, staticSeq(set, maxSeq))
	}
	for _, set := range c.UID {
		if imap.IsSearchRes(set) {
			out.UID = append(out.UID, s.sel.searchRes)
			continue
		}
		out.UID = append(out.UID, staticUID(set, maxUID))
	}
	out.Not = make([]imap.SearchCriteria, len(c.Not))
	for i := range c.Not {
		out.Not[i] = *s.staticCriteria(&c.Not[i], refs)
	}
	out.Or = make([][2]imap.SearchCriteria, len(c.Or))
	for i := range c.Or {
		out.Or[i][0] = *s.staticCriteria(&c.Or[i][0], refs)
		out.Or[i][1] = *s.staticCriteria(&c.Or[i][1], refs)
	}
	return &out
}
