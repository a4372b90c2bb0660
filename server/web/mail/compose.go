package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	netmail "net/mail"
	"strconv"
	"strings"

	gomail "github.com/emersion/go-message/mail"

	"mailsrv/auth/acl"
	"mailsrv/server/submit"
	"mailsrv/store"
)

// Compose: POST /api/mail/{account}/send, multipart/form-data with the
// fields from, to, cc, bcc, subject, text, in_reply_to, references,
// reply_folder + reply_uid (the answered message, flagged \Answered),
// forward_folder + forward_uid (attached as message/rfc822), draft=1 (save
// to the account's Drafts instead of sending) and any number of
// "attachment" files. The message goes through server/submit exactly as
// from SMTP submission: the same sender authorisation (send-as or
// send-on-behalf from the member's rights, else 403 with the reason), the
// same header fields added, DKIM signature, local delivery, queue and Sent
// copy. A message over limits.max_message_bytes is refused with 413,
// before the upload is read when the browser sent its length.

// formOverhead is what multipart encoding adds around the message's parts.
const formOverhead = 256 << 10

// formMemory is how much of an upload is kept in memory (the rest goes to
// temporary files).
const formMemory = 8 << 20

// SendResult is the answer of /send.
type SendResult struct {
	OK        bool   `json:"ok"`
	MessageID string `json:"message_id,omitempty"`
	// As is "send-as info@…" or "send-on-behalf info@…" for a shared
	// sender, "" for one's own address.
	As    string `json:"as,omitempty"`
	Draft bool   `json:"draft,omitempty"`
}

func (m *Mail) canSend() bool { return m.opts.Submit != nil }

func (m *Mail) tooLarge() error {
	return errorf(http.StatusRequestEntityTooLarge, fmt.Sprintf("the message is larger than this server accepts (%d bytes with attachments): remove or shrink attachments", m.opts.MaxMessageBytes))
}

func (m *Mail) apiSend(q *request) (any, error) {
	if !m.canSend() {
		return nil, errorf(http.StatusNotImplemented, "sending from the webmail is not enabled on this server")
	}
	limit := m.opts.MaxMessageBytes
	if limit > 0 && q.r.ContentLength > limit+formOverhead {
		return nil, m.tooLarge()
	}
	if limit > 0 {
		q.r.Body = http.MaxBytesReader(q.w, q.r.Body, limit+formOverhead)
	}
	if err := q.r.ParseMultipartForm(formMemory); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, m.tooLarge()
		}
		return nil, errorf(http.StatusBadRequest, "send the message as multipart/form-data (the compose form)")
	}
	defer q.r.MultipartForm.RemoveAll()
	a, err := m.account(q, acl.OpRead)
	if err != nil {
		return nil, err
	}
	form := q.r.MultipartForm
	val := func(k string) string {
		if v := form.Value[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	from := strings.ToLower(val("from"))
	if from == "" {
		from = a.mb.Address
	}
	if val("draft") == "1" {
		return m.saveDraft(q, a, form, val, from)
	}
	id, err := m.identity(q)
	if err != nil {
		return nil, err
	}
	sub := m.opts.Submit
	if _, err := sub.Authorize(q.r.Context(), id, from); err != nil {
		return nil, submitHTTP(err)
	}
	if answered, err := m.checkStale(q, a, val); answered || err != nil {
		return nil, err
	}
	env := submit.Envelope{From: from, KeepSent: true}
	var rcpts []string
	for _, k := range []string{"to", "cc", "bcc"} {
		list, err := parseAddrs(val(k))
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "the "+strings.ToUpper(k[:1])+k[1:]+" field is not a list of addresses: "+err.Error())
		}
		for _, ad := range list {
			addr, err := store.NormalizeAddress(ad.Address)
			if err != nil {
				return nil, errorf(http.StatusBadRequest, ad.Address+" is not a valid address")
			}
			rcpts = append(rcpts, addr)
		}
	}
	if len(rcpts) == 0 {
		return nil, errorf(http.StatusBadRequest, "say whom to send it to: To is empty")
	}
	for _, r := range rcpts {
		if err := sub.AddRecipient(q.r.Context(), &env, r); err != nil {
			if errors.Is(err, submit.ErrNoSuchRecipient) {
				return nil, errorf(http.StatusBadRequest, "there is no mailbox "+r+" here: check the address")
			}
			return nil, err
		}
	}
	raw, err := m.build(q, form, val, from)
	if err != nil {
		return nil, err
	}
	hdrEnd := bytes.Index(raw, []byte("\r\n\r\n"))
	hc, err := sub.CheckHeader(q.r.Context(), id, raw[:hdrEnd+4])
	if err != nil {
		return nil, submitHTTP(err)
	}
	blob, err := m.blob(q.r.Context(), raw)
	if err != nil {
		return nil, err
	}
	msgID, err := sub.Deliver(q.r.Context(), id, env, hc, blob, submit.Trace{Helo: "webmail", IP: remoteIP(q.r), TLS: q.r.TLS != nil, ConnID: "web-" + q.sess.ID[:8]})
	if err != nil {
		blob.Abort()
		return nil, submitHTTP(err)
	}
	res := SendResult{OK: true, MessageID: msgID}
	if addr, action := hc.SharedAddress(); addr != "" {
		res.As = action + " " + addr
	}
	q.log.Info("message sent from the webmail", "from", from, "message_id", msgID, "rcpts", len(env.Rcpts), "as", res.As)
	m.markAnswered(q, a, val("reply_folder"), val("reply_uid"))
	m.replySent(q, a, val("reply_folder"), val("reply_uid"))
	return res, nil
}

// identity is who sends: the session's user and that user's mailbox.
func (m *Mail) identity(q *request) (submit.Identity, error) {
	mb, err := m.st.MailboxByAddress(q.r.Context(), q.sess.User)
	if err != nil {
		return submit.Identity{}, err
	}
	return submit.Identity{User: q.sess.User, MailboxID: mb.ID}, nil
}

// saveDraft stores the message in the account's Drafts (append right).
func (m *Mail) saveDraft(q *request, a account, form *multipart.Form, val func(string) string, from string) (any, error) {
	if !a.allows(acl.OpAppend) {
		return nil, errorf(http.StatusForbidden, "you need the manage right on "+a.mb.Address+" to save drafts there")
	}
	drafts, err := m.specialFolder(q.r.Context(), a, `\Drafts`, "Drafts")
	if err != nil {
		return nil, err
	}
	raw, err := m.build(q, form, val, from)
	if err != nil {
		return nil, err
	}
	blob, err := m.blob(q.r.Context(), raw)
	if err != nil {
		return nil, err
	}
	if _, err := m.st.Deliver(q.r.Context(), store.Delivery{Blob: blob, Targets: []store.Target{{MailboxID: a.mb.ID, Folder: drafts.Name, Flags: []string{`\Draft`, `\Seen`}}}}); err != nil {
		blob.Abort()
		return nil, err
	}
	return SendResult{OK: true, Draft: true}, nil
}

// blob writes raw into a synced store blob, within max_message_bytes.
func (m *Mail) blob(ctx context.Context, raw []byte) (*store.BlobWriter, error) {
	w, err := m.st.NewBlob(ctx, m.opts.MaxMessageBytes)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(raw); err != nil {
		w.Abort()
		if errors.Is(err, store.ErrTooLarge) {
			return nil, m.tooLarge()
		}
		return nil, err
	}
	if err := w.Sync(); err != nil {
		w.Abort()
		return nil, err
	}
	return w, nil
}

func parseAddrs(s string) ([]*netmail.Address, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	return netmail.ParseAddressList(s)
}

// build writes the message: text/plain, or multipart/mixed with the
// attachments and a forwarded message.
func (m *Mail) build(q *request, form *multipart.Form, val func(string) string, from string) ([]byte, error) {
	var h gomail.Header
	h.SetDate(m.st.Now())
	h.SetAddressList("From", []*gomail.Address{{Address: from}})
	for _, k := range []string{"To", "Cc"} {
		list, _ := parseAddrs(val(strings.ToLower(k)))
		if len(list) > 0 {
			h.SetAddressList(k, toGomail(list))
		}
	}
	h.SetSubject(val("subject"))
	if v := val("in_reply_to"); v != "" {
		h.Set("In-Reply-To", "<"+strings.Trim(v, "<>")+">")
	}
	if v := val("references"); v != "" {
		h.Set("References", v)
	}
	text := strings.ReplaceAll(strings.ReplaceAll(val("text")+"\n", "\r\n", "\n"), "\n", "\r\n")
	files := form.File["attachment"]
	fwd, err := m.forwarded(q, val("forward_folder"), val("forward_uid"))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if len(files) == 0 && fwd == nil {
		h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
		w, err := gomail.CreateSingleInlineWriter(&buf, h)
		if err != nil {
			return nil, err
		}
		io.WriteString(w, text)
		w.Close()
		return buf.Bytes(), nil
	}
	mw, err := gomail.CreateWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	var th gomail.InlineHeader
	th.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	tw, err := mw.CreateSingleInline(th)
	if err != nil {
		return nil, err
	}
	io.WriteString(tw, text)
	tw.Close()
	for _, fh := range files {
		if err := attach(mw, fh); err != nil {
			return nil, err
		}
		if m.opts.MaxMessageBytes > 0 && int64(buf.Len()) > m.opts.MaxMessageBytes {
			return nil, m.tooLarge()
		}
	}
	if fwd != nil {
		var ah gomail.AttachmentHeader
		ah.SetContentType("message/rfc822", nil)
		ah.SetFilename("forwarded.eml")
		aw, err := mw.CreateAttachment(ah)
		if err != nil {
			return nil, err
		}
		aw.Write(fwd)
		aw.Close()
	}
	mw.Close()
	return buf.Bytes(), nil
}

func toGomail(l []*netmail.Address) []*gomail.Address {
	out := make([]*gomail.Address, len(l))
	for i, a := range l {
		out[i] = &gomail.Address{Name: a.Name, Address: a.Address}
	}
	return out
}

func attach(mw *gomail.Writer, fh *multipart.FileHeader) error {
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	ct := fh.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	var ah gomail.AttachmentHeader
	ah.Set("Content-Type", ct)
	ah.SetFilename(fh.Filename)
	aw, err := mw.CreateAttachment(ah)
	if err != nil {
		return err
	}
	if _, err := io.Copy(aw, f); err != nil {
		return err
	}
	return aw.Close()
}

// forwarded returns the raw message being forwarded, or nil.
func (m *Mail) forwarded(q *request, folder, uid string) ([]byte, error) {
	if uid == "" {
		return nil, nil
	}
	qv := q.r.URL.Query()
	qv.Set("folder", folder)
	qv.Set("uid", uid)
	q.r.URL.RawQuery = qv.Encode()
	l, err := m.load(q)
	if err != nil {
		return nil, err
	}
	return l.raw, nil
}

// markAnswered flags the replied-to message \Answered where allowed.
func (m *Mail) markAnswered(q *request, a account, folder, uidText string) {
	uid, err := strconv.ParseUint(uidText, 10, 32)
	if err != nil || uid == 0 || !a.allows(acl.OpWrite) {
		return
	}
	f, err := m.folder(q.r.Context(), a, folder)
	if err != nil {
		return
	}
	if _, err := m.st.StoreFlags(q.r.Context(), f.ID, []uint32{uint32(uid)}, store.FlagsAdd, []string{`\Answered`}, q.sess.User); err != nil {
		q.log.Warn("marking the original answered", "err", err)
	}
}

// submitHTTP maps the pipeline's refusals to HTTP: a missing right 403,
// a malformed message 400, a temporary failure 503.
func submitHTTP(err error) error {
	var se *submit.Error
	if !errors.As(err, &se) {
		return err
	}
	switch {
	case se.Temporary():
		return errorf(http.StatusServiceUnavailable, se.Message)
	case se.Enhanced[1] == 7:
		return errorf(http.StatusForbidden, se.Message)
	}
	return errorf(http.StatusBadRequest, se.Message)
}

func remoteIP(r *http.Request) net.IP {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return net.ParseIP(host)
}
