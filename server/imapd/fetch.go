package imapd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// fetchChunk is how many messages one store read covers; the chunk is
// copied out of the read transaction and then written to the client.
const fetchChunk = 500

func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, o *imap.FetchOptions) error {
	defer s.observe("FETCH", time.Now())
	if err := s.needSel(acl.OpRead); err != nil {
		return err
	}
	markSeen := false
	for _, bs := range o.BodySection {
		markSeen = markSeen || !bs.Peek
	}
	for _, bs := range o.BinarySection {
		markSeen = markSeen || !bs.Peek
	}
	// Reading a body marks it \Seen unless the folder is read-only for us
	// (EXAMINE); readers may set \Seen (SPEC §5).
	if markSeen && s.needSel(acl.OpSetSeen) != nil {
		markSeen = false
	}
	flagsOnly := !o.Envelope && !o.InternalDate && !o.RFC822Size && o.BodyStructure == nil &&
		len(o.BodySection) == 0 && len(o.BinarySection) == 0 && len(o.BinarySectionSize) == 0

	refs, gone := s.refsGone(numSet)
	defer s.batch()()
	if o.Vanished {
		if err := s.writeFetchVanished(w, numSet, o.ChangedSince); err != nil {
			return err
		}
	}
	refs, err := s.changedSince(refs, o.ChangedSince)
	if err != nil {
		return err
	}
	for start := 0; start < len(refs); start += fetchChunk {
		chunk := refs[start:min(start+fetchChunk, len(refs))]
		var missed bool
		var err error
		if flagsOnly {
			missed, err = s.fetchFlags(w, chunk, o.ModSeq)
		} else {
			missed, err = s.fetchFull(w, chunk, o, markSeen)
		}
		if err != nil {
			return err
		}
		gone = gone || missed
	}
	if gone {
		return errExpungeIssued
	}
	return nil
}

// fetchFlags serves UID/FLAGS from the compact flags bucket only.
//
// This is the hot path of every client's resync (FETCH 1:* (FLAGS) over the
// whole folder), and go-imap's per-response encoder sets a write deadline
// and takes its locks for each message, which costs more than everything
// else together. So the chunk's responses are formatted here and handed to
// go-imap's buffered writer in one WriteRaw, in order with its own
// responses. Messages whose flags are not plain atoms go through go-imap's
// encoder instead.
//
// missed reports that a message of chunk was expunged meanwhile.
func (s *session) fetchFlags(w *imapserver.FetchWriter, chunk []msgRef, modSeq bool) (missed bool, err error) {
	flags, err := s.srv.st.FlagsOfAs(s.ctx, s.sel.fid, refUIDs(chunk), s.sel.viewer)
	if err != nil {
		return false, err
	}
	buf := make([]byte, 0, 48*len(chunk))
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		err := s.writeRaw(buf)
		buf = buf[:0]
		return err
	}
	shown := make(shownFlags, len(chunk))
	defer s.overtaken(shown, true)
	j := 0
	for _, r := range chunk {
		if j >= len(flags) || flags[j].UID != r.uid {
			missed = true // expunged meanwhile
			continue
		}
		fl, ms := s.sel.recent.flags(r.uid, flags[j].Flags), flags[j].ModSeq
		shown.add(r.uid, flags[j].Flags, flags[j].ModSeq)
		j++
		if !modSeq {
			ms = 0
		}
		buf = s.sel.kw.appendAnnounce(buf, fl)
		if atomFlags(fl) {
			buf = appendFlagsResponse(buf, r.seq, r.uid, fl, ms)
			continue
		}
		if err := flush(); err != nil {
			return missed, err
		}
		mw := w.CreateMessage(r.seq)
		mw.WriteUID(imap.UID(r.uid))
		mw.WriteFlags(toIMAPFlags(fl))
		if ms != 0 {
			mw.WriteModSeq(ms)
		}
		if err := mw.Close(); err != nil {
			return missed, err
		}
	}
	return missed, flush()
}

// appendFlagsResponse formats "* seq FETCH (UID uid FLAGS (...))", with
// " MODSEQ (ms)" when ms is not 0.
func appendFlagsResponse(b []byte, seq, uid uint32, flags []string, ms uint64) []byte {
	b = append(b, "* "...)
	b = strconv.AppendUint(b, uint64(seq), 10)
	b = append(b, " FETCH (UID "...)
	b = strconv.AppendUint(b, uint64(uid), 10)
	b = append(b, " FLAGS ("...)
	for i, f := range flags {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, f...)
	}
	if ms != 0 {
		b = append(b, ") MODSEQ ("...)
		b = strconv.AppendUint(b, ms, 10)
	}
	return append(b, "))\r\n"...)
}

// atomFlags reports whether every flag can be written as is: an atom,
// optionally with a leading backslash (RFC 3501 flag syntax).
func atomFlags(flags []string) bool {
	for _, f := range flags {
		f = strings.TrimPrefix(f, `\`)
		if f == "" {
			return false
		}
		for i := 0; i < len(f); i++ {
			c := f[i]
			if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
				return false
			}
		}
	}
	return true
}

func (s *session) fetchFull(w *imapserver.FetchWriter, chunk []msgRef, o *imap.FetchOptions, markSeen bool) (missed bool, err error) {
	st := s.srv.st
	load := st.Messages
	if !readsBody(o) {
		// ENVELOPE, INTERNALDATE, RFC822.SIZE: the head index answers.
		load = st.MessageHeads
	}
	msgs, err := load(s.ctx, s.sel.fid, refUIDs(chunk))
	if err == nil {
		err = st.OverlayMessages(s.ctx, s.sel.fid, msgs, s.sel.viewer)
	}
	if err != nil {
		return false, err
	}
	missed = len(msgs) < len(chunk)
	writeFlags := o.Flags
	if markSeen {
		if err := s.checkBinaryCTE(msgs, o); err != nil {
			return missed, err // before any \Seen (fetch_cte.go)
		}
		var unseen []uint32
		for _, m := range msgs {
			if !hasFlag(m.Flags, `\Seen`) {
				unseen = append(unseen, m.UID)
			}
		}
		if len(unseen) > 0 {
			res, err := st.StoreFlagsIf(s.ctx, s.sel.origin, s.sel.fid, unseen, store.FlagsAdd, []string{`\Seen`}, s.user, nil)
			if err != nil {
				return missed, err
			}
			for i := range msgs {
				if fl, ok := res.Flags[msgs[i].UID]; ok {
					msgs[i].Flags, msgs[i].ModSeq = fl, res.ModSeq[msgs[i].UID]
				}
			}
			writeFlags = true // RFC 3501: the \Seen change is reported
		}
	}
	if writeFlags || o.ModSeq {
		// A reply with MODSEQ but no FLAGS overtakes queued updates too:
		// the first is then rewritten to the current state.
		shown := make(shownFlags, len(msgs))
		for i := range msgs {
			shown.add(msgs[i].UID, msgs[i].Flags, msgs[i].ModSeq)
		}
		defer s.overtaken(shown, writeFlags)
	}
	err = eachLoaded(chunk, msgs, func(r msgRef, m *store.Message) error {
		err := s.fetchOne(w, r.seq, m, o, writeFlags)
		if errors.Is(err, store.ErrNotFound) {
			// The body went with an expunge committed since the
			// metadata was read: nothing was written for it.
			missed = true
			return nil
		}
		return err
	})
	return missed, err
}

// errUnknownCTE answers a BINARY fetch of a part whose
// Content-Transfer-Encoding the server cannot decode (RFC 3516 §4.2).
var errUnknownCTE = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnknownCTE,
	Text: "The part's Content-Transfer-Encoding is unknown; fetch it with BODY[] instead"}

// readsBody reports whether o asks for anything read from the message
// file (prepare).
func readsBody(o *imap.FetchOptions) bool {
	return o.BodyStructure != nil || len(o.BodySection) > 0 || len(o.BinarySection) > 0 || len(o.BinarySectionSize) > 0
}

// prepared holds what one FETCH response needs from the body, computed
// before the response starts (so a read error never leaves a half-written
// response).
type prepared struct {
	bs       imap.BodyStructure
	sections [][]byte
	binary   [][]byte
	binSizes []uint32
	stream   io.ReadCloser // whole-message BODY[] streamed from the blob
	streamAt int           // index in o.BodySection served by stream or whole
	whole    []byte        // the whole message when it was read into memory (pooled)
}

// release returns p's pooled buffer to bb; nothing of p may be used after.
func (p *prepared) release(bb *bodyBufs) {
	if p.whole != nil {
		bb.put(p.whole)
		p.whole = nil
	}
}

// isWhole reports a BODY[] / BODY[]<partial> section, served by streaming.
func isWhole(bs *imap.FetchItemBodySection) bool {
	return bs.Specifier == imap.PartSpecifierNone && len(bs.Part) == 0 &&
		len(bs.HeaderFields) == 0 && len(bs.HeaderFieldsNot) == 0
}

// maxSharedRead bounds the message size prepare reads into memory once
// to serve several items of one FETCH from it.
const maxSharedRead = 1 << 20

// fetchPasses counts how many times prepare reads the message for o.
func fetchPasses(o *imap.FetchOptions) int {
	n := len(o.BodySection) + len(o.BinarySection) + len(o.BinarySectionSize)
	if o.BodyStructure != nil {
		n++
	}
	return n
}

func (s *session) prepare(m *store.Message, o *imap.FetchOptions) (*prepared, error) {
	st := s.srv.st
	p := &prepared{streamAt: -1}
	// A message small enough is read from the blob store once, into a
	// pooled buffer, and every item of this FETCH is served from memory:
	// each open is a file open (or an HTTP GET with S3 bodies), and a
	// body read whole costs one open and one read (bodybuf.go).
	var whole []byte
	if fetchPasses(o) > 0 && m.Size <= maxSharedRead {
		b, err := st.ReadMessage(s.ctx, m, s.srv.bodies.get(m.Size))
		switch {
		case err == nil:
			whole, p.whole = b, b
		case errors.Is(err, io.ErrUnexpectedEOF):
			// Shorter than its record says: streamed below, which pads
			// the literal and reports the damage.
			s.srv.bodies.put(b)
		default:
			s.srv.bodies.put(b)
			return nil, err
		}
	}
	open := func() (io.ReadCloser, error) {
		if whole != nil {
			return io.NopCloser(bytes.NewReader(whole)), nil
		}
		return st.OpenMessage(s.ctx, m)
	}
	// extract runs fn over a fresh reader of the whole message: go-imap's
	// extractors each parse from the start, and a large body is streamed
	// from the blob store rather than kept in memory.
	extract := func(fn func(r io.Reader)) error {
		rc, err := open()
		if err != nil {
			return err
		}
		defer rc.Close()
		fn(rc)
		return nil
	}
	if o.BodyStructure != nil {
		if err := extract(func(r io.Reader) { p.bs = imapserver.ExtractBodyStructure(r) }); err != nil {
			return nil, err
		}
	}
	for i, bs := range o.BodySection {
		if isWhole(bs) && p.streamAt < 0 {
			p.streamAt = i
			p.sections = append(p.sections, nil)
			continue
		}
		if err := extract(func(r io.Reader) { p.sections = append(p.sections, imapserver.ExtractBodySection(r, bs)) }); err != nil {
			return nil, err
		}
	}
	// BINARY[] and BINARY.SIZE[] (RFC 3516) undo the transfer encoding;
	// one the server cannot decode fails the FETCH with NO [UNKNOWN-CTE].
	var cteErr error
	binary := func(bs *imap.FetchItemBinarySection) ([]byte, error) {
		var b []byte
		err := extract(func(r io.Reader) { b, cteErr = imapserver.ExtractBinarySectionErr(r, bs) })
		if err == nil && cteErr != nil {
			err = errUnknownCTE
		}
		return b, err
	}
	for _, bs := range o.BinarySection {
		b, err := binary(bs)
		if err != nil {
			return nil, err
		}
		p.binary = append(p.binary, b)
	}
	for _, bs := range o.BinarySectionSize {
		b, err := binary(&imap.FetchItemBinarySection{Part: bs.Part})
		if err != nil {
			return nil, err
		}
		p.binSizes = append(p.binSizes, uint32(len(b)))
	}
	if p.streamAt >= 0 && whole == nil {
		rc, err := open()
		if err != nil {
			return nil, err
		}
		p.stream = rc
	}
	return p, nil
}

func (s *session) fetchOne(w *imapserver.FetchWriter, seq uint32, m *store.Message, o *imap.FetchOptions, writeFlags bool) error {
	p, err := s.prepare(m, o)
	if errors.Is(err, store.ErrNotFound) {
		if fl, ferr := s.srv.st.FlagsOfAs(s.ctx, s.sel.fid, []uint32{m.UID}, s.sel.viewer); ferr == nil && len(fl) == 0 {
			return err // expunged meanwhile: the caller says EXPUNGEISSUED
		}
	}
	if errors.Is(err, errUnknownCTE) {
		return err
	}
	if err != nil {
		return fmt.Errorf("open message %d of folder %d: %w", m.UID, s.sel.fid, err)
	}
	if p.stream != nil {
		defer p.stream.Close()
	}
	defer p.release(&s.srv.bodies)
	if writeFlags {
		if err := s.announce(m.Flags); err != nil {
			return err
		}
	}
	mw := w.CreateMessage(seq)
	mw.WriteUID(imap.UID(m.UID))
	if writeFlags {
		mw.WriteFlags(toIMAPFlags(s.sel.recent.flags(m.UID, m.Flags)))
	}
	if o.InternalDate {
		mw.WriteInternalDate(m.InternalDate)
	}
	if o.RFC822Size {
		mw.WriteRFC822Size(m.Size)
	}
	// With CONDSTORE on, a FETCH that reports flags (the \Seen it set)
	// carries the MODSEQ too (RFC 7162 §3.1).
	if o.ModSeq || writeFlags && w.CondStoreEnabled() {
		mw.WriteModSeq(m.ModSeq)
	}
	if o.Envelope {
		mw.WriteEnvelope(toIMAPEnvelope(m.Envelope))
	}
	if o.BodyStructure != nil {
		mw.WriteBodyStructure(p.bs)
	}
	var werr error
	for i, bs := range o.BodySection {
		if i == p.streamAt && p.whole != nil {
			werr = writeWhole(mw, bs, p.whole)
		} else if i == p.streamAt {
			werr = streamSection(mw, bs, p.stream, m.Size)
		} else {
			werr = writeLiteral(mw.WriteBodySection(bs, int64(len(p.sections[i]))), p.sections[i])
		}
		if werr != nil {
			break
		}
	}
	for i := 0; werr == nil && i < len(o.BinarySection); i++ {
		werr = writeLiteral(mw.WriteBinarySection(o.BinarySection[i], int64(len(p.binary[i]))), p.binary[i])
	}
	for i := 0; werr == nil && i < len(o.BinarySectionSize); i++ {
		mw.WriteBinarySectionSize(o.BinarySectionSize[i], p.binSizes[i])
	}
	cerr := mw.Close()
	if werr != nil {
		return werr
	}
	return cerr
}

func writeLiteral(wc io.WriteCloser, b []byte) error {
	_, err := wc.Write(b)
	if cerr := wc.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeWhole writes BODY[] (or a <partial> of it) of a message read into
// memory, in one write.
func writeWhole(mw *imapserver.FetchResponseWriter, bs *imap.FetchItemBodySection, whole []byte) error {
	b := whole
	if bs.Partial != nil {
		off := min(bs.Partial.Offset, int64(len(b)))
		b = b[off:min(off+bs.Partial.Size, int64(len(b)))]
	}
	return writeLiteral(mw.WriteBodySection(bs, int64(len(b))), b)
}

// streamSection copies BODY[] (or a <partial> of it) from the blob file to
// the client without holding the message in memory.
func streamSection(mw *imapserver.FetchResponseWriter, bs *imap.FetchItemBodySection, r io.Reader, size int64) error {
	off, n := int64(0), size
	if bs.Partial != nil {
		off = min(bs.Partial.Offset, size)
		n = min(bs.Partial.Size, size-off)
		if err := skipTo(r, off); err != nil {
			n = 0
		}
	}
	wc := mw.WriteBodySection(bs, n)
	copied, err := io.CopyN(wc, r, n)
	if err != nil && copied < n {
		// The blob is shorter than recorded: pad so the literal stays
		// well-formed, and report the damage.
		_, _ = io.CopyN(wc, bytes.NewReader(make([]byte, n-copied)), n-copied)
	}
	cerr := wc.Close()
	if err != nil {
		return fmt.Errorf("stream body: %w", err)
	}
	return cerr
}

// skipTo advances r to off: by seeking when it can (a body in S3 is then
// fetched from off, not downloaded up to it), else by reading.
func skipTo(r io.Reader, off int64) error {
	if sk, ok := r.(io.Seeker); ok {
		_, err := sk.Seek(off, io.SeekStart)
		return err
	}
	_, err := io.CopyN(io.Discard, r, off)
	return err
}

func toIMAPEnvelope(e *store.Envelope) *imap.Envelope {
	if e == nil {
		return &imap.Envelope{}
	}
	return &imap.Envelope{
		Date: e.Date, Subject: e.Subject,
		From: toIMAPAddrs(e.From), Sender: toIMAPAddrs(e.Sender), ReplyTo: toIMAPAddrs(e.ReplyTo),
		To: toIMAPAddrs(e.To), Cc: toIMAPAddrs(e.Cc), Bcc: toIMAPAddrs(e.Bcc),
		InReplyTo: bareMsgIDs(e.InReplyTo), MessageID: bareMsgID(e.MessageID),
	}
}

// bareMsgID strips the angle brackets the store keeps around a Message-ID
// (as the header has them, for audit and HEADER search): go-imap adds them
// back when it writes the ENVELOPE.
func bareMsgID(id string) string {
	return strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
}

func bareMsgIDs(ids []string) []string {
	if len(ids) == 0 {
		return nil
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = bareMsgID(id)
	}
	return out
}

func toIMAPAddrs(l []store.Address) []imap.Address {
	if len(l) == 0 {
		return nil
	}
	out := make([]imap.Address, len(l))
	for i, a := range l {
		out[i] = imap.Address{Name: a.Name, Mailbox: a.Mailbox, Host: a.Host}
	}
	return out
}
