package smtpd

// Message handling of submission: the body is streamed once into a blob
// while the header block is captured for the From:/Sender: check; after the
// blob is fsynced, the sending pipeline (server/submit) re-reads it (page
// cache) for DKIM signing, because the signature needs the final header,
// which includes fields it may add. The DKIM-Signature, Received and any
// added Sender:/Message-ID:/Date: go into Delivery.Prefix, so the body is
// written exactly once.

import (
	"bufio"
	"errors"
	"io"
	"slices"

	"github.com/emersion/go-smtp"

	"mailsrv/auth/msgauth"
	"mailsrv/server/submit"
	"mailsrv/store"
)

func (s *subSession) Data(r io.Reader) error {
	id := s.identity()
	if id == nil {
		return errNeedAuth
	}
	s.mu.Lock()
	env := submit.Envelope{From: s.env.From, Local: slices.Clone(s.env.Local),
		Remote: slices.Clone(s.env.Remote), Rcpts: slices.Clone(s.env.Rcpts)}
	s.mu.Unlock()
	log := s.ci.Log.With("user", id.User, "from", env.From)
	opts := s.b.opts

	w, err := s.st.NewBlob(s.ctx, opts.Limits.MaxMessageBytes)
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

	_, isTLS := s.conn.TLSConnectionState()
	msgID, err := s.b.sub.Deliver(s.ctx, id.submitter(), env, hc, w,
		submit.Trace{Helo: s.conn.Hostname(), IP: s.ci.RemoteIP, TLS: isTLS, ConnID: s.ci.ID})
	if err != nil {
		w.Abort()
		var se *submit.Error
		if errors.As(err, &se) {
			log.Warn("message refused", "err", err)
			return smtpErr(err)
		}
		log.Error("storing message", "err", err)
		return storeError(err)
	}
	opts.Metrics.SMTPAccepted(s.b.name)
	log.Info("message submitted", "message_id", msgID, "rcpts", len(env.Rcpts), "local", len(env.Local), "remote", len(env.Remote), "size", w.Size())
	return nil
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
