package mail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode parts in any charset go-message knows

	"mailsrv/auth/acl"
	"mailsrv/store"
)

// Bounds on what a message view parses: deeper or more parts are shown
// as raw text rather than walked (a hostile message costs no more).
const (
	maxDepth = 20
	maxParts = 500
	// maxShownText bounds the text and HTML bodies sent to the page.
	maxShownText = 4 << 20
)

// Attachment is one downloadable part.
type Attachment struct {
	Part        int    `json:"part"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
}

// View is the answer of /message.
type View struct {
	UID          uint32       `json:"uid"`
	Date         time.Time    `json:"date"`
	From         string       `json:"from"`
	To           string       `json:"to"`
	Cc           string       `json:"cc,omitempty"`
	ReplyTo      string       `json:"reply_to,omitempty"`
	Subject      string       `json:"subject"`
	MessageID    string       `json:"message_id,omitempty"`
	References   string       `json:"references,omitempty"`
	Flags        []string     `json:"flags"`
	Text         string       `json:"text"`
	HTML         string       `json:"html,omitempty"`
	RemoteImages bool         `json:"remote_images"`
	Attachments  []Attachment `json:"attachments"`
	ParseError   string       `json:"parse_error,omitempty"`
}

// loaded is one message read for a view.
type loaded struct {
	a   account
	f   *store.Folder
	msg store.Message
	raw []byte
}

// load reads the message named by ?folder= and ?uid=.
func (m *Mail) load(q *request) (*loaded, error) {
	a, err := m.account(q, acl.OpRead)
	if err != nil {
		return nil, err
	}
	f, err := m.folder(q.r.Context(), a, q.r.URL.Query().Get("folder"))
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(q.r.URL.Query().Get("uid"), 10, 32)
	if err != nil || uid == 0 {
		return nil, errorf(http.StatusBadRequest, "uid must be a message UID (a positive number)")
	}
	msgs, err := m.st.MessagesAs(q.r.Context(), f.ID, []uint32{uint32(uid)}, m.viewer(q, f))
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 {
		return nil, errorf(http.StatusNotFound, "that message is no longer in "+f.Name)
	}
	rc, err := m.st.OpenMessage(q.r.Context(), &msgs[0])
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	return &loaded{a: a, f: f, msg: msgs[0], raw: raw}, nil
}

// part is one leaf of the MIME tree.
type part struct {
	index       int
	mediaType   string
	params      map[string]string
	disposition string
	filename    string
	body        []byte // decoded (transfer encoding and, for text, charset)
}

// parse walks the message's leaf parts. It returns what it could read and
// an error when the structure is broken; the caller shows raw text then.
func parse(raw []byte) ([]part, *message.Entity, error) {
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, nil, err
	}
	var parts []part
	err = walk(e, 0, &parts)
	return parts, e, err
}

func walk(e *message.Entity, depth int, parts *[]part) error {
	if depth > maxDepth || len(*parts) >= maxParts {
		return errors.New("the message has too many nested parts to show")
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			child, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
				return err
			}
			if err := walk(child, depth+1, parts); err != nil {
				return err
			}
		}
	}
	mt, params, _ := e.Header.ContentType()
	if mt == "" {
		mt = "text/plain"
	}
	disp, dparams, _ := e.Header.ContentDisposition()
	body, err := io.ReadAll(io.LimitReader(e.Body, 64<<20))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return err
	}
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	*parts = append(*parts, part{index: len(*parts), mediaType: strings.ToLower(mt), params: params,
		disposition: strings.ToLower(disp), filename: name, body: body})
	return nil
}

// isBody reports whether p is shown as the message text rather than
// listed as an attachment.
func (p *part) isBody() bool {
	return p.disposition != "attachment" && p.filename == "" &&
		(p.mediaType == "text/plain" || p.mediaType == "text/html")
}

// view builds the message view; it never fails on the message's content.
func view(l *loaded) *View {
	v := &View{UID: l.msg.UID, Date: l.msg.InternalDate, Flags: l.msg.Flags, Attachments: []Attachment{}}
	if v.Flags == nil {
		v.Flags = []string{}
	}
	if e := l.msg.Envelope; e != nil {
		if !e.Date.IsZero() {
			v.Date = e.Date
		}
		v.Subject, v.MessageID = e.Subject, e.MessageID
		v.From, v.To, v.Cc, v.ReplyTo = addrList(e.From), addrList(e.To), addrList(e.Cc), addrList(e.ReplyTo)
	}
	parts, e, err := parse(l.raw)
	if e != nil {
		v.References = e.Header.Get("References")
	}
	if err != nil {
		v.ParseError = "This message could not be read as MIME (" + err.Error() + "); it is shown as raw text."
		v.Text = clip(string(l.raw))
		return v
	}
	for i := range parts {
		p := &parts[i]
		switch {
		case p.isBody() && p.mediaType == "text/plain" && v.Text == "":
			v.Text = clip(string(p.body))
		case p.isBody() && p.mediaType == "text/html" && v.HTML == "":
			v.HTML = sanitize(clip(string(p.body)))
			v.RemoteImages = hasRemoteImages(v.HTML)
		default:
			v.Attachments = append(v.Attachments, Attachment{Part: p.index, Filename: displayName(p),
				ContentType: p.mediaType, Size: len(p.body)})
		}
	}
	if v.Text == "" && v.HTML != "" {
		v.Text = htmlToText(v.HTML) // for quoting in a reply
	}
	return v
}

func clip(s string) string {
	if len(s) > maxShownText {
		return s[:maxShownText] + "\n[… cut: the rest is in the raw source]"
	}
	return s
}

func displayName(p *part) string {
	if p.filename != "" {
		return p.filename
	}
	ext := ".bin"
	if exts, _ := mime.ExtensionsByType(p.mediaType); len(exts) > 0 {
		ext = exts[0]
	}
	return fmt.Sprintf("part%d%s", p.index+1, ext)
}

// apiMessage shows a message and, as IMAP's FETCH BODY[] does, marks it
// read when the member may set \Seen (?peek=1 does not).
func (m *Mail) apiMessage(q *request) (any, error) {
	l, err := m.load(q)
	if err != nil {
		return nil, err
	}
	if q.r.URL.Query().Get("peek") == "" && !hasFlag(l.msg.Flags, `\Seen`) && l.a.allows(acl.OpSetSeen) {
		res, err := m.st.StoreFlags(q.r.Context(), l.f.ID, []uint32{l.msg.UID}, store.FlagsAdd, []string{`\Seen`}, q.sess.User)
		if err != nil {
			return nil, err
		}
		if fl, ok := res[l.msg.UID]; ok {
			l.msg.Flags = fl
		}
	}
	return view(l), nil
}

// apiHTML serves the sanitized HTML body as a document for the reader's
// sandboxed iframe. Its own policy allows no script at all, inline
// styles, and images only from data: URLs, or from anywhere with
// ?images=1 (the reader asked).
func (m *Mail) apiHTML(q *request) (any, error) {
	l, err := m.load(q)
	if err != nil {
		return nil, err
	}
	v := view(l)
	img := "data:"
	if q.r.URL.Query().Get("images") == "1" {
		img = "data: https: http:"
	}
	h := q.w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src "+img+
		"; frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox allow-popups allow-popups-to-escape-sandbox")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	body := v.HTML
	if body == "" {
		body = "<pre>" + htmlEscape(v.Text) + "</pre>"
	}
	io.WriteString(q.w, `<!doctype html><html><head><meta charset="utf-8"><base target="_blank">`+
		`<style>body{font:15px/1.45 system-ui,sans-serif;margin:8px;overflow-wrap:anywhere}img{max-width:100%;height:auto}pre{white-space:pre-wrap}</style>`+
		`</head><body>`+body+`</body></html>`)
	return nil, nil
}

// apiAttachment sends one part's decoded bytes as a download.
func (m *Mail) apiAttachment(q *request) (any, error) {
	l, err := m.load(q)
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(q.r.URL.Query().Get("part"))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "part must be the number of an attachment")
	}
	parts, _, err := parse(l.raw)
	if err != nil || n < 0 || n >= len(parts) {
		return nil, errorf(http.StatusNotFound, "this message has no such attachment")
	}
	p := &parts[n]
	ct := p.mediaType
	if _, _, err := mime.ParseMediaType(ct); err != nil || !strings.Contains(ct, "/") {
		ct = "application/octet-stream"
	}
	if strings.HasPrefix(ct, "text/") {
		ct = mime.FormatMediaType(ct, map[string]string{"charset": "utf-8"})
	}
	h := q.w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": displayName(p)}))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Content-Length", strconv.Itoa(len(p.body)))
	h.Set("Cache-Control", "private, no-store")
	q.w.Write(p.body)
	return nil, nil
}

// apiRaw sends the message source as text.
func (m *Mail) apiRaw(q *request) (any, error) {
	l, err := m.load(q)
	if err != nil {
		return nil, err
	}
	h := q.w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-store")
	q.w.Write(l.raw)
	return nil, nil
}
