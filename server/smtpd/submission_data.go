package smtpd

// Message handling of submission: the body is streamed once into a blob
// while the header block is captured for the From:/Sender: check; after the
// blob is fsynced it is re-read (page cache) for DKIM signing, because the
// signature needs the final header, which includes fields we may add. The
// DKIM-Signature, Received and any added Sender:/Message-ID:/Date: go into
// Delivery.Prefix, so the body is written exactly once.

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"mailsrv/auth/acl"
	"mailsrv/auth/msgauth"
	"mailsrv/store"
)

// errRightsChanged is returned by the in-transaction check when a right was
// revoked between the header check and the commit.
var errRightsChanged = errors.New("send right revoked during delivery")

func (s *subSession) Data(r io.Reader) error {
	id := s.identity()
	if id == nil {
		return errNeedAuth
	}
	s.mu.Lock()
	from := s.from
	local := append([]uint64(nil), s.local...)
	remote := append([]string(nil), s.remote...)
	rcpts := append([]string(nil), s.rcpts...)
	s.mu.Unlock()
	log := s.ci.Log.With("user", id.User, "from", from)
	opts := s.b.opts

	w, err := s.st.NewBlob(opts.Limits.MaxMessageBytes)
	if err != nil {
		log.Error("creating blob", "err", err)
		return storeError(err)
	}
	var hdr []byte
	_, cerr, herr := teeStream(w, newDataReader(s.conn, r, s.b.srv.readTO), func(pr io.Reader) error {
		var err error
		hdr, err = readHeader(pr)
		return err
	})
	if cerr != nil {
		w.Abort()
		var se *smtp.SMTPError
		switch {
		case errors.As(cerr, &se):
			return se // go-smtp's own answers (552 too large, line too long)
		case errors.Is(cerr, smtp.ErrTooLongLine):
			return smtpError(500, smtp.EnhancedCode{5, 5, 2}, "Line too long")
		case errors.Is(cerr, store.ErrTooLarge):
			return smtpError(552, smtp.EnhancedCode{5, 3, 4}, "Message too big")
		}
		log.Warn("receiving message", "err", cerr)
		return storeError(cerr)
	}
	if herr != nil {
		w.Abort()
		return smtpError(550, smtp.EnhancedCode{5, 6, 0}, "Message header too large or malformed")
	}
	hc, err := s.checkHeader(id, hdr)
	if err != nil {
		w.Abort()
		log.Warn("message refused", "err", err)
		opts.Metrics.SMTPRejected(s.b.name, "sender")
		return err
	}
	if err := w.Sync(); err != nil {
		w.Abort()
		log.Error("syncing blob", "err", err)
		return storeError(err)
	}

	// Header fields we add, signed together with the message.
	var extra strings.Builder
	msgID := hc.messageID
	if !hc.hasMessageID {
		msgID = newMessageID(opts.Hostname)
		extra.WriteString("Message-ID: <" + msgID + ">\r\n")
	}
	now := s.st.Now()
	if !hc.hasDate {
		extra.WriteString("Date: " + now.Format(time.RFC1123Z) + "\r\n")
	}
	if hc.addSender != "" {
		extra.WriteString("Sender: <" + hc.addSender + ">\r\n")
	}
	sigs, err := s.sign(hc.signDomain, extra.String(), w.ID())
	if err != nil {
		w.Abort()
		log.Error("DKIM signing", "domain", hc.signDomain, "err", err)
		return errStore
	}
	_, isTLS := s.conn.TLSConnectionState()
	forRcpt := ""
	if len(rcpts) == 1 {
		forRcpt = rcpts[0]
	}
	received := msgauth.HeaderField("Received", msgauth.ReceivedHeader(msgauth.ReceivedInfo{
		Helo: s.conn.Hostname(), IP: s.ci.RemoteIP, Hostname: opts.Hostname,
		TLS: isTLS, Authenticated: true, ID: s.ci.ID, For: forRcpt, Date: now,
	}))

	d := store.Delivery{
		Blob:         w,
		Prefix:       []byte(received + sigs + extra.String()),
		InternalDate: now,
	}
	for _, mbid := range local {
		d.Targets = append(d.Targets, store.Target{MailboxID: mbid})
	}
	for _, g := range hc.shared {
		// SPEC §6: mail sent as a shared address is also kept in its Sent
		// folder so every member sees it, and the send is audited.
		d.Targets = append(d.Targets, store.Target{MailboxID: g.mailbox.ID, Folder: "Sent", Flags: []string{store.FlagSeen}})
		d.Audit = append(d.Audit, store.MailboxAudit{MailboxID: g.mailbox.ID, Entry: store.AuditEntry{
			Actor: id.User, Action: g.action(), Folder: "Sent", MessageID: msgID,
			Detail: "to " + strings.Join(rcpts, ", "),
		}})
	}
	if opts.SaveSent && len(hc.shared) == 0 {
		// [submission] save_sent: the sender's own Sent copy. It carries
		// the trace prefix, so the client's own APPEND of it is recognised
		// (store.RecentSubmittedCopy) and not stored twice.
		d.Targets = append(d.Targets, store.Target{MailboxID: id.MailboxID, Folder: "Sent", Flags: []string{store.FlagSeen}})
	}
	if len(remote) > 0 {
		d.Queue = &store.QueueItem{From: from, To: remote}
	}
	shared := hc.shared
	d.Check = func(tx *store.Tx) error {
		for _, g := range shared {
			r, err := tx.RightsOf(g.mailbox.ID, id.User)
			if err != nil {
				return err
			}
			op := acl.OpSendOnBehalf
			if g.kind == sendAs {
				op = acl.OpSendAs
			}
			if !acl.Allows(r, op) {
				return fmt.Errorf("%w: %s on %s", errRightsChanged, g.action(), g.mailbox.Address)
			}
		}
		return nil
	}
	if _, err := s.st.Deliver(d); err != nil {
		w.Abort()
		if errors.Is(err, errRightsChanged) {
			log.Warn("message refused", "err", err)
			return refuse("You may not send as %s: the right was revoked", shared[0].addr)
		}
		log.Error("storing message", "err", err)
		return storeError(err)
	}
	if d.Queue != nil {
		opts.Wake()
	}
	opts.Metrics.SMTPAccepted(s.b.name)
	log.Info("message submitted", "message_id", msgID, "rcpts", len(rcpts), "local", len(local), "remote", len(remote), "size", w.Size())
	return nil
}

// sign returns the DKIM-Signature fields for the message extra + blob,
// one per key of domain (ed25519 and RSA after `domain add`). A domain
// without keys gives no signature.
func (s *subSession) sign(domain, extra, blobID string) (string, error) {
	dom, err := s.st.GetDomain(domain)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var out strings.Builder
	for _, k := range dom.DKIM {
		signer, err := msgauth.NewSigner(dom.Name, k.Selector, []byte(k.PrivateKeyPEM))
		if err != nil {
			return "", fmt.Errorf("key %s: %w", k.Selector, err)
		}
		f, err := s.st.OpenBlob(blobID)
		if err != nil {
			return "", err
		}
		sig, err := signer.Sign(io.MultiReader(strings.NewReader(extra), f))
		f.Close()
		if err != nil {
			return "", err
		}
		out.WriteString(sig)
	}
	return out.String(), nil
}

// readHeader reads the header block (through the blank line) from r,
// bounded by msgauth.MaxHeaderBytes. A message without a body yields its
// whole text plus the blank line.
func readHeader(r io.Reader) ([]byte, error) {
	br := bufio.NewReader(r)
	var buf []byte
	lineStart := true
	for {
		line, err := br.ReadSlice('\n')
		if len(buf)+len(line) > msgauth.MaxHeaderBytes {
			return nil, msgauth.ErrHeaderTooLarge
		}
		buf = append(buf, line...)
		if err == bufio.ErrBufferFull {
			lineStart = false
			continue
		}
		if err == io.EOF {
			if len(buf) > 0 && buf[len(buf)-1] != '\n' {
				buf = append(buf, '\r', '\n')
			}
			return append(buf, '\r', '\n'), nil
		}
		if err != nil {
			return nil, err
		}
		if lineStart && (string(line) == "\r\n" || string(line) == "\n") {
			return buf, nil
		}
		lineStart = true
	}
}

func newMessageID(host string) string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "@" + host
}
