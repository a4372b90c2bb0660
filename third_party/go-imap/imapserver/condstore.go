// mailsrv patch: whole file. The server side of CONDSTORE and QRESYNC
// (RFC 7162), which upstream lacks: the command parameters and modifiers
// (SELECT/EXAMINE (CONDSTORE) and (QRESYNC …), FETCH (CHANGEDSINCE n
// [VANISHED]), STORE (UNCHANGEDSINCE n)), the MODSEQ fetch item, the
// HIGHESTMODSEQ response code, VANISHED responses instead of EXPUNGE once
// QRESYNC is enabled, and MODSEQ in unsolicited FETCH responses once
// CONDSTORE is. The hooks in select.go, fetch.go, store.go, status.go,
// search.go, enable.go, capability.go and tracker.go call into here.
package imapserver

import (
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/internal/imapwire"
)

// SessionQResync is implemented by sessions that support QRESYNC.
type SessionQResync interface {
	// QResyncSelect runs during SELECT/EXAMINE with a QRESYNC parameter,
	// after the untagged SELECT data and before the tagged OK. It writes
	// what changed since p.ModSeq: VANISHED (EARLIER) with w.WriteVanished
	// and FETCH responses (UID, FLAGS, MODSEQ) with w.CreateMessage.
	QResyncSelect(w *FetchWriter, p *imap.SelectQResync) error
}

func (c *Conn) hasCap(cap imap.Cap) bool { return c.server.options.caps().Has(cap) }

// enabledCap reports whether cap was enabled on this connection.
func (c *Conn) enabledCap(cap imap.Cap) bool {
	c.mutex.Lock()
	defer c.mutex.Unlock()
	return c.enabled.Has(cap)
}

// enableCondStore records a CONDSTORE-enabling command (RFC 7162 §3.1):
// from now on unsolicited FETCH responses carry MODSEQ.
func (c *Conn) enableCondStore() {
	if !c.hasCap(imap.CapCondStore) {
		return
	}
	c.mutex.Lock()
	c.enabled[imap.CapCondStore] = struct{}{}
	c.mutex.Unlock()
}

// SessionHighestModSeq is implemented by sessions that can tell the
// selected mailbox's HIGHESTMODSEQ outside SELECT.
type SessionHighestModSeq interface {
	HighestModSeq() uint64
}

// enableCondStoreCmd is enableCondStore for a command other than
// SELECT/EXAMINE and ENABLE: when it is the first CONDSTORE-enabling
// command and a mailbox is selected, the client is told the mailbox's
// HIGHESTMODSEQ in an untagged OK (RFC 7162 §3.1), which it otherwise
// only learns from SELECT.
func (c *Conn) enableCondStoreCmd() {
	was := c.enabledCap(imap.CapCondStore)
	c.enableCondStore()
	if was || !c.enabledCap(imap.CapCondStore) || c.state != imap.ConnStateSelected {
		return
	}
	s, ok := c.session.(SessionHighestModSeq)
	if !ok {
		return
	}
	ms := s.HighestModSeq()
	if ms == 0 {
		return
	}
	enc := newResponseEncoder(c)
	enc.Atom("*").SP().Atom("OK").SP()
	enc.Special('[').Atom("HIGHESTMODSEQ").SP().ModSeq(ms).Special(']')
	enc.SP().Text("Highest")
	_ = enc.CRLF() // a write error ends the connection at the reply
	enc.end()
}

// enableExtension handles ENABLE CONDSTORE / QRESYNC; QRESYNC implies
// CONDSTORE (RFC 7162 §3.2.3).
func (c *Conn) enableExtension(req imap.Cap) bool {
	switch req {
	case imap.CapCondStore, imap.CapQResync:
	default:
		return false
	}
	if !c.hasCap(req) {
		return false
	}
	c.enableCondStore()
	return true
}

func badCondStore(text string) error {
	return &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug, Text: text}
}

// readSelectParams reads SELECT/EXAMINE's optional parameter list and
// the CRLF.
func (c *Conn) readSelectParams(dec *imapwire.Decoder, options *imap.SelectOptions) error {
	if dec.SP() {
		err := dec.ExpectList(func() error {
			var name string
			if !dec.ExpectAtom(&name) {
				return dec.Err()
			}
			switch strings.ToUpper(name) {
			case "CONDSTORE":
				if !c.hasCap(imap.CapCondStore) {
					return badCondStore("CONDSTORE is not supported")
				}
				options.CondStore = true
			case "QRESYNC":
				if !dec.ExpectSP() {
					return dec.Err()
				}
				q, err := readQResyncParam(dec)
				if err != nil {
					return err
				}
				options.QResync = q
			default:
				return badCondStore("Unknown SELECT parameter " + name)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if !dec.ExpectCRLF() {
		return dec.Err()
	}
	if options.QResync != nil && !c.enabledCap(imap.CapQResync) {
		return badCondStore("QRESYNC must be enabled first (ENABLE QRESYNC)")
	}
	if options.CondStore {
		c.enableCondStore()
	}
	return nil
}

// readQResyncParam reads "(uidvalidity modseq [known-uids] [(seqs uids)])".
func readQResyncParam(dec *imapwire.Decoder) (*imap.SelectQResync, error) {
	q := &imap.SelectQResync{}
	i := 0
	err := dec.ExpectList(func() error {
		defer func() { i++ }()
		switch {
		case i == 0:
			if !dec.ExpectNumber(&q.UIDValidity) {
				return dec.Err()
			}
		case i == 1:
			if !dec.ExpectModSeq(&q.ModSeq) {
				return dec.Err()
			}
		case q.SeqMatchSeqs == nil:
			isList, err := dec.List(func() error {
				if q.SeqMatchSeqs != nil {
					var uids imap.UIDSet
					if err := expectPlainUIDSet(dec, &uids); err != nil {
						return err
					}
					q.SeqMatchUIDs = uids
					return nil
				}
				var set imap.NumSet
				if !dec.ExpectNumSet(imapwire.NumKindSeq, &set) {
					return dec.Err()
				}
				seqs, ok := set.(imap.SeqSet)
				if !ok || imap.IsSearchRes(set) {
					return badCondStore("Invalid sequence match data")
				}
				q.SeqMatchSeqs = seqs
				return nil
			})
			if err != nil {
				return err
			}
			if isList {
				if q.SeqMatchUIDs == nil {
					return badCondStore("Invalid sequence match data")
				}
				return nil
			}
			if i != 2 {
				return badCondStore("Invalid QRESYNC parameter")
			}
			return expectPlainUIDSet(dec, &q.KnownUIDs)
		default:
			return badCondStore("Invalid QRESYNC parameter")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if i < 2 || q.UIDValidity == 0 || q.ModSeq == 0 {
		return nil, badCondStore("QRESYNC needs a UIDVALIDITY and a non-zero mod-sequence")
	}
	return q, nil
}

func expectPlainUIDSet(dec *imapwire.Decoder, ptr *imap.UIDSet) error {
	var uids imap.UIDSet
	if !dec.ExpectUIDSet(&uids) {
		return dec.Err()
	}
	if imap.IsSearchRes(uids) {
		return badCondStore("$ is not allowed here")
	}
	*ptr = uids
	return nil
}

// writeSelectModSeq writes HIGHESTMODSEQ into the SELECT response (when
// CONDSTORE is enabled) and, for a QRESYNC SELECT, what changed.
func (c *Conn) writeSelectModSeq(data *imap.SelectData, options *imap.SelectOptions) error {
	if data.HighestModSeq == 0 || !c.enabledCap(imap.CapCondStore) {
		return nil
	}
	enc := newResponseEncoder(c)
	enc.Atom("*").SP().Atom("OK").SP()
	enc.Special('[').Atom("HIGHESTMODSEQ").SP().ModSeq(data.HighestModSeq).Special(']')
	enc.SP().Text("Highest")
	err := enc.CRLF()
	enc.end()
	if err != nil || options.QResync == nil {
		return err
	}
	qs, ok := c.session.(SessionQResync)
	if !ok {
		return nil
	}
	return qs.QResyncSelect(&FetchWriter{conn: c}, options.QResync)
}

// readFetchModifiers reads FETCH's optional modifier list
// "(CHANGEDSINCE n [VANISHED])" (RFC 7162 §3.1.4.1, §3.2.6).
func (c *Conn) readFetchModifiers(dec *imapwire.Decoder, options *imap.FetchOptions, numKind NumKind) error {
	if dec.SP() {
		err := dec.ExpectList(func() error {
			var name string
			if !dec.ExpectAtom(&name) {
				return dec.Err()
			}
			switch strings.ToUpper(name) {
			case "CHANGEDSINCE":
				if !dec.ExpectSP() || !dec.ExpectModSeq(&options.ChangedSince) {
					return dec.Err()
				}
			case "VANISHED":
				options.Vanished = true
			default:
				return badCondStore("Unknown FETCH modifier " + name)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if options.Vanished && (numKind != NumKindUID || options.ChangedSince == 0 || !c.enabledCap(imap.CapQResync)) {
		return badCondStore("VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC")
	}
	if options.ChangedSince != 0 || options.ModSeq {
		if !c.hasCap(imap.CapCondStore) {
			return badCondStore("CONDSTORE is not supported")
		}
		options.ModSeq = true // CHANGEDSINCE implies MODSEQ
		c.enableCondStoreCmd()
	}
	return nil
}

// readStoreModifiers reads STORE's optional "(UNCHANGEDSINCE n) ".
func (c *Conn) readStoreModifiers(dec *imapwire.Decoder, options *imap.StoreOptions) error {
	isList, err := dec.List(func() error {
		var name string
		if !dec.ExpectAtom(&name) {
			return dec.Err()
		}
		if strings.ToUpper(name) != "UNCHANGEDSINCE" {
			return badCondStore("Unknown STORE modifier " + name)
		}
		if !dec.ExpectSP() || !dec.ExpectModSeq(&options.UnchangedSince) {
			return dec.Err()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !isList {
		return nil
	}
	options.HasUnchangedSince = true
	if !c.hasCap(imap.CapCondStore) {
		return badCondStore("CONDSTORE is not supported")
	}
	c.enableCondStoreCmd()
	if !dec.ExpectSP() {
		return dec.Err()
	}
	return nil
}

// WriteModSeq writes the MODSEQ fetch item.
func (w *FetchResponseWriter) WriteModSeq(modSeq uint64) {
	w.writeItemSep()
	w.enc.Atom("MODSEQ").SP().Special('(').ModSeq(modSeq).Special(')')
}

// WriteVanished writes "* VANISHED [(EARLIER)] uids".
func (cmd *FetchWriter) WriteVanished(uids imap.UIDSet, earlier bool) error {
	return cmd.conn.writeVanished(uids, earlier)
}

// CondStoreEnabled reports whether the client enabled CONDSTORE (or used
// a command that enables it): FETCH responses must then carry MODSEQ.
func (cmd *FetchWriter) CondStoreEnabled() bool { return cmd.conn.enabledCap(imap.CapCondStore) }

func (c *Conn) writeVanished(uids imap.UIDSet, earlier bool) error {
	if len(uids) == 0 {
		return nil
	}
	enc := newResponseEncoder(c)
	defer enc.end()
	enc.Atom("*").SP().Atom("VANISHED").SP()
	if earlier {
		enc.Atom("(EARLIER)").SP()
	}
	return enc.NumSet(uids).CRLF()
}

// writeExpungeUpdate writes an expunge as VANISHED once QRESYNC is
// enabled (RFC 7162 §3.2.10), else as EXPUNGE.
func (w *UpdateWriter) writeExpungeUpdate(seqNum uint32, uid imap.UID) error {
	if uid != 0 && w.conn.enabledCap(imap.CapQResync) {
		if !w.allowExpunge {
			return w.WriteExpunge(seqNum) // the same refusal
		}
		return w.conn.writeVanished(imap.UIDSetNum(uid), false)
	}
	return w.WriteExpunge(seqNum)
}

// writeFlagsUpdate writes an unsolicited FETCH of new flags, with MODSEQ
// once CONDSTORE is enabled.
func (w *UpdateWriter) writeFlagsUpdate(f *trackerUpdateFetch) error {
	if f.modSeq == 0 || !w.conn.enabledCap(imap.CapCondStore) {
		return w.WriteMessageFlags(f.seqNum, f.uid, f.flags)
	}
	respWriter := (&FetchWriter{conn: w.conn}).CreateMessage(f.seqNum)
	if f.uid != 0 {
		respWriter.WriteUID(f.uid)
	}
	respWriter.WriteFlags(f.flags)
	respWriter.WriteModSeq(f.modSeq)
	return respWriter.Close()
}

// QueueExpungeUID is QueueExpunge for a session that may report it as
// VANISHED: uid is the expunged message's UID.
func (t *MailboxTracker) QueueExpungeUID(seqNum uint32, uid imap.UID) {
	if seqNum == 0 {
		panic("imapserver: invalid expunge message sequence number")
	}
	t.queueUpdate(&trackerUpdate{expunge: seqNum, expungeUID: uid}, nil)
}

// QueueMessageFlagsModSeq is QueueMessageFlags with the change's modseq.
func (t *MailboxTracker) QueueMessageFlagsModSeq(seqNum uint32, uid imap.UID, flags []imap.Flag, modSeq uint64, source *SessionTracker) {
	t.queueUpdate(&trackerUpdate{fetch: &trackerUpdateFetch{
		seqNum: seqNum,
		uid:    uid,
		flags:  flags,
		modSeq: modSeq,
	}}, source)
}

// readSearchModSeq reads the rest of the MODSEQ search key:
// [SP entry-name SP entry-type-req] SP mod-sequence-valzer.
func readSearchModSeq(criteria *imap.SearchCriteria, dec *imapwire.Decoder) error {
	if !dec.ExpectSP() {
		return dec.Err()
	}
	m := &imap.SearchCriteriaModSeq{}
	if !dec.ModSeq(&m.ModSeq) {
		if dec.Err() != nil {
			return dec.Err()
		}
		var typ string
		if !dec.ExpectAString(&m.MetadataName) || !dec.ExpectSP() || !dec.ExpectAtom(&typ) || !dec.ExpectSP() || !dec.ExpectModSeq(&m.ModSeq) {
			return dec.Err()
		}
		switch t := imap.SearchCriteriaMetadataType(strings.ToLower(typ)); t {
		case imap.SearchCriteriaMetadataAll, imap.SearchCriteriaMetadataPrivate, imap.SearchCriteriaMetadataShared:
			m.MetadataType = t
		default:
			return badCondStore("Invalid MODSEQ entry type " + typ)
		}
	}
	if criteria.ModSeq == nil || criteria.ModSeq.ModSeq < m.ModSeq {
		criteria.ModSeq = m // MODSEQ a MODSEQ b is MODSEQ max(a, b)
	}
	return nil
}

// checkSearchModSeq enables CONDSTORE for a SEARCH that uses MODSEQ
// anywhere in its criteria (RFC 7162 §3.1).
func (c *Conn) checkSearchModSeq(criteria *imap.SearchCriteria) error {
	if !usesModSeq(criteria) {
		return nil
	}
	if !c.hasCap(imap.CapCondStore) {
		return badCondStore("CONDSTORE is not supported")
	}
	c.enableCondStoreCmd()
	return nil
}

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

// PendingExpungeUIDs returns the UIDs of the messages whose expunge is
// queued for this session but not yet reported: they are still in the
// client's view, so a VANISHED (EARLIER) must not name them (RFC 7162
// §3.2.10), the queued VANISHED does.
func (t *SessionTracker) PendingExpungeUIDs() []imap.UID {
	t.mutex.Lock()
	defer t.mutex.Unlock()
	var out []imap.UID
	for _, update := range t.queue {
		if update.expunge != 0 && update.expungeUID != 0 {
			out = append(out, update.expungeUID)
		}
	}
	return out
}

// OvertakenFlags is what a session's reply knows of one message: the
// state the store has now (see SessionTracker.Overtake).
type OvertakenFlags struct {
	Flags  []imap.Flag
	ModSeq uint64
}

// Overtake deals with queued flag updates that a session's own reply has
// overtaken. states maps a UID to its state as the reply read it, after
// the changes queued here were committed, so a queued update of that UID
// with a MODSEQ at most the state's is older. Written after the reply it
// would take the client's flags back and its MODSEQ down (RFC 7162
// §3.1.2; imaptest reports "MODSEQ dropped"). When the reply showed the
// flags (written), such updates are dropped; when it did not (STORE
// .SILENT), the first is rewritten to the current state, so the client
// still learns the other sessions' changes, and the rest are dropped.
func (t *SessionTracker) Overtake(states map[imap.UID]OvertakenFlags, written bool) {
	if len(states) == 0 {
		return
	}
	t.mutex.Lock()
	defer t.mutex.Unlock()
	var rewritten map[imap.UID]bool
	q := t.queue[:0]
	for _, u := range t.queue {
		if f := u.fetch; f != nil {
			if st, ok := states[f.uid]; ok && f.modSeq <= st.ModSeq {
				if written || rewritten[f.uid] {
					continue
				}
				if rewritten == nil {
					rewritten = map[imap.UID]bool{}
				}
				rewritten[f.uid] = true
				u.fetch = &trackerUpdateFetch{seqNum: f.seqNum, uid: f.uid, flags: st.Flags, modSeq: st.ModSeq}
			}
		}
		q = append(q, u)
	}
	for i := len(q); i < len(t.queue); i++ {
		t.queue[i] = trackerUpdate{} // let dropped flag lists be collected
	}
	t.queue = q
}
