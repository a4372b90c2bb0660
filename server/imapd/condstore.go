package imapd

// CONDSTORE and QRESYNC (RFC 7162): QRESYNC SELECT, FETCH CHANGEDSINCE
// and VANISHED, STORE UNCHANGEDSINCE. The store keeps the mod-sequences
// and tombstones (store/modseq.go); go-imap's copy parses the commands and
// writes VANISHED/MODSEQ (third_party/go-imap/imapserver/condstore.go).

import (
	"slices"
	"strconv"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailsrv/store"
)

// qresyncView is the folder as a QRESYNC SELECT showed it: its UIDs (the
// client's sequence numbers) and the modseq they are current at.
type qresyncView struct {
	uids    []uint32
	modseq  uint64
	uidNext uint32
}

// QResyncSelect writes what changed in the selected folder since the
// client's modseq (RFC 7162 §3.2.5.1): VANISHED (EARLIER) with the UIDs
// expunged since, then a FETCH (UID FLAGS MODSEQ) for each message changed
// since. Only changes up to the view SELECT reported are written here;
// later ones are queued for the session already and follow as updates.
func (s *session) QResyncSelect(w *imapserver.FetchWriter, p *imap.SelectQResync) error {
	sel := s.sel
	if sel == nil || sel.qresync == nil {
		return nil
	}
	view := sel.qresync
	sel.qresync = nil
	if p.UIDValidity != sel.uidValidity || p.ModSeq >= view.modseq {
		return nil // another folder incarnation (full resync), or nothing new
	}
	ch, err := s.srv.st.ChangesSinceAs(s.ctx, sel.fid, p.ModSeq, sel.viewer)
	if err != nil {
		return mapStoreErr(err)
	}
	var vanished imap.UIDSet
	if ch.Complete {
		for _, tb := range ch.Vanished {
			if tb.ModSeq <= view.modseq && (p.KnownUIDs == nil || p.KnownUIDs.Contains(imap.UID(tb.UID))) {
				vanished.AddNum(imap.UID(tb.UID))
			}
		}
	} else {
		// The tombstones the client needs were pruned: every UID it may
		// know of that is not in the folder (a superset, RFC 7162 §3.2.5.2).
		vanished = missingUIDs(p.KnownUIDs, view.uids, view.uidNext)
	}
	defer s.batch()()
	if err := w.WriteVanished(vanished, true); err != nil {
		return err
	}
	for _, c := range ch.Changed {
		i, ok := slices.BinarySearch(view.uids, c.UID)
		if !ok {
			continue // added after the view: reported as new
		}
		if err := s.writeChanged(w, uint32(i+1), c); err != nil {
			return err
		}
	}
	return nil
}

// writeChanged writes "* seq FETCH (UID u FLAGS (…) MODSEQ (m))".
func (s *session) writeChanged(w *imapserver.FetchWriter, seq uint32, c store.UIDFlags) error {
	if err := s.announce(c.Flags); err != nil {
		return err
	}
	shown := shownFlags{}
	shown.add(c.UID, c.Flags, c.ModSeq)
	s.overtaken(shown, true)
	mw := w.CreateMessage(seq)
	mw.WriteUID(imap.UID(c.UID))
	mw.WriteFlags(toIMAPFlags(c.Flags))
	mw.WriteModSeq(c.ModSeq)
	return mw.Close()
}

// missingUIDs returns the UIDs of known (nil: 1 to uidNext-1) that are not
// in present (sorted).
func missingUIDs(known imap.UIDSet, present []uint32, uidNext uint32) imap.UIDSet {
	var out imap.UIDSet
	if known == nil {
		if uidNext <= 1 {
			return nil
		}
		known = imap.UIDSet{imap.UIDRange{Start: 1, Stop: imap.UID(uidNext - 1)}}
	}
	for _, r := range known {
		lo, hi := uint32(min(r.Start, r.Stop)), uint32(max(r.Start, r.Stop))
		if r.Start == 0 || r.Stop == 0 { // "*": the last UID there can be
			hi = max(lo, uidNext-1)
			lo = min(max(uint32(r.Start), uint32(r.Stop)), hi)
			if lo == 0 {
				lo = hi
			}
		}
		i, _ := slices.BinarySearch(present, lo)
		for u := lo; u <= hi && u != 0; {
			if i < len(present) && present[i] == u {
				i++
				u++
				continue
			}
			next := hi + 1
			if i < len(present) && present[i] <= hi {
				next = present[i]
			}
			out = append(out, imap.UIDRange{Start: imap.UID(u), Stop: imap.UID(next - 1)})
			if next > hi {
				break
			}
			u = next
		}
	}
	return out
}

// changedSince keeps the refs whose modseq is above since, with their
// modseq (FETCH CHANGEDSINCE, RFC 7162 §3.1.4.1).
func (s *session) changedSince(refs []msgRef, since uint64) ([]msgRef, error) {
	if since == 0 || len(refs) == 0 {
		return refs, nil
	}
	flags, err := s.srv.st.FlagsOfAs(s.ctx, s.sel.fid, refUIDs(refs), s.sel.viewer)
	if err != nil {
		return nil, mapStoreErr(err)
	}
	out := refs[:0:0]
	j := 0
	for _, r := range refs {
		for j < len(flags) && flags[j].UID < r.uid {
			j++
		}
		if j < len(flags) && flags[j].UID == r.uid && flags[j].ModSeq > since {
			out = append(out, r)
		}
	}
	return out, nil
}

// writeFetchVanished answers UID FETCH … (CHANGEDSINCE n VANISHED): the
// UIDs of the set expunged since n, as VANISHED (EARLIER), before the
// FETCH responses (RFC 7162 §3.2.6).
func (s *session) writeFetchVanished(w *imapserver.FetchWriter, numSet imap.NumSet, since uint64) error {
	set, ok := numSet.(imap.UIDSet)
	if !ok || imap.IsSearchRes(numSet) {
		set = s.sel.searchRes
	}
	ch, err := s.srv.st.ChangesSinceAs(s.ctx, s.sel.fid, since, s.sel.viewer)
	if err != nil {
		return mapStoreErr(err)
	}
	pending := s.sel.t.PendingExpungeUIDs()
	fs := s.sel.fs
	fs.mu.Lock()
	present := slices.Clone(fs.uids)
	uidNext := uint32(1)
	if n := len(present); n > 0 {
		uidNext = present[n-1] + 1
	}
	fs.mu.Unlock()
	// UIDs at and above the folder's UIDNEXT never existed.
	if f, err := s.srv.st.FolderByID(s.ctx, s.sel.fid); err == nil {
		uidNext = max(uidNext, f.UIDNext)
	}
	// Messages still in the client's view learn of their expunge from
	// the queued VANISHED, not from this one: they count as present.
	for _, u := range pending {
		if i, found := slices.BinarySearch(present, uint32(u)); !found {
			present = slices.Insert(present, i, uint32(u))
		}
	}
	set = staticUID(set, max(uidNext-1, 1))
	var vanished imap.UIDSet
	if ch.Complete {
		for _, tb := range ch.Vanished {
			if _, still := slices.BinarySearch(present, tb.UID); !still && set.Contains(imap.UID(tb.UID)) {
				vanished.AddNum(imap.UID(tb.UID))
			}
		}
	} else {
		vanished = missingUIDs(set, present, uidNext)
	}
	return w.WriteVanished(vanished, true)
}

// modifiedError is STORE UNCHANGEDSINCE's answer when some messages were
// changed after the given modseq: OK [MODIFIED set] (RFC 7162 §3.1.3),
// the set in UIDs for UID STORE and sequence numbers otherwise.
func modifiedError(refs []msgRef, modified []uint32, uidForm bool) error {
	var set imap.NumSet
	if uidForm {
		var us imap.UIDSet
		for _, u := range modified {
			us.AddNum(imap.UID(u))
		}
		set = us
	} else {
		var ss imap.SeqSet
		for _, r := range refs {
			if slices.Contains(modified, r.uid) {
				ss.AddNum(r.seq)
			}
		}
		set = ss
	}
	return &imap.Error{Type: imap.StatusResponseTypeOK, Code: imap.ResponseCode("MODIFIED " + set.String()), Text: "Conditional STORE failed for " + strconv.Itoa(len(modified)) + " message(s)"}
}

// usesModSeq reports whether SEARCH criteria use MODSEQ anywhere.
func usesModSeq(c *imap.SearchCriteria) bool {
	if c.ModSeq != nil {
		return true
	}
	for i := range c.Not {
		if usesModSeq(&c.Not[i]) {
			return true
		}
	}
	for i := range c.Or {
		if usesModSeq(&c.Or[i][0]) || usesModSeq(&c.Or[i][1]) {
			return true
		}
	}
	return false
}

// HighestModSeq is the selected folder's HIGHESTMODSEQ, announced when a
// FETCH/STORE/SEARCH/STATUS first enables CONDSTORE (go-imap
// SessionHighestModSeq, RFC 7162 §3.1).
func (s *session) HighestModSeq() uint64 {
	if s.sel == nil || s.sel.fs == nil {
		return 0
	}
	s.sel.fs.mu.Lock()
	defer s.sel.fs.mu.Unlock()
	return s.sel.fs.modseq
}
