package spam

import (
	"bufio"
	"hash/fnv"
	"html"
	"io"
	"path"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode non-UTF-8 text parts
	gomail "github.com/emersion/go-message/mail"
)

// Bounds on what one message may cost the tokenizer. A 50 MB message (or
// a malformed one) costs the same as a 1 MB one: only the first maxInput
// bytes are read, at most maxText bytes of decoded text are split into
// words, at most maxParts MIME parts up to maxDepth levels are walked,
// and at most maxTokens distinct tokens are kept.
const (
	maxInput   = 1 << 20
	maxText    = 256 << 10
	maxParts   = 40
	maxDepth   = 5
	maxTokens  = 3000
	minWordLen = 3
	maxWordLen = 24
	// maxTokenLen bounds one token in bytes.
	maxTokenLen = 200
)

// Features is what the filter learns from and classifies on.
type Features struct {
	// Tokens are distinct, prefixed by where they came from ("s:" subject
	// word, "w:" body word, "u:" URL host, "h:" header name, ...).
	Tokens []string
	// From is the single From address (lowercase), "" when there is none.
	From string
	// Recipients are the To/Cc/Bcc addresses (lowercase), for learning
	// who a mailbox writes to from its Sent folder.
	Recipients []string
}

// Hashes returns the tokens hashed as the store keeps them.
func (f Features) Hashes() []uint64 {
	out := make([]uint64, len(f.Tokens))
	for i, t := range f.Tokens {
		out[i] = hashToken(t)
	}
	return out
}

func hashToken(t string) uint64 {
	h := fnv.New64a()
	io.WriteString(h, t)
	return h.Sum64()
}

// tokenizer accumulates distinct tokens within the bounds.
type tokenizer struct {
	seen  map[string]struct{}
	toks  []string
	text  int // decoded text bytes consumed
	parts int
}

func (z *tokenizer) add(t string) {
	if len(z.toks) >= maxTokens {
		return
	}
	if len(t) > maxTokenLen {
		t = t[:maxTokenLen] // header values (Message-ID domain, charset) are the sender's
	}
	if _, ok := z.seen[t]; ok {
		return
	}
	z.seen[t] = struct{}{}
	z.toks = append(z.toks, t)
}

// Tokenize reads a message (at most maxInput bytes of it) and returns its
// features. It never fails: whatever cannot be parsed is skipped, and a
// message that is not MIME at all is tokenized as plain text.
func Tokenize(r io.Reader) Features {
	z := &tokenizer{seen: map[string]struct{}{}}
	var f Features
	br := bufio.NewReader(io.LimitReader(r, maxInput))
	e, err := message.Read(br)
	if e == nil {
		z.add("meta:unparsable")
		z.words("w:", br, maxText)
		f.Tokens = z.toks
		return f
	}
	if err != nil {
		z.add("meta:bad-encoding")
	}
	f.From, f.Recipients = z.header(gomail.Header{Header: e.Header})
	z.entity(e, 0)
	f.Tokens = z.toks
	return f
}

// skippedHeaders are trace and result fields: added by relays (and by
// this server, whose own X-Spam-Status must never teach the filter its
// own verdict), they say nothing about the message itself.
var skippedHeaders = map[string]bool{
	"received": true, "authentication-results": true, "return-path": true,
	"delivered-to": true, "arc-seal": true, "arc-message-signature": true,
	"arc-authentication-results": true, "received-spf": true,
}

// header adds tokens from the top-level header and returns the From
// address and the recipients.
func (z *tokenizer) header(h gomail.Header) (from string, rcpts []string) {
	fields := h.Fields()
	for n := 0; fields.Next() && n < 200; n++ {
		k := strings.ToLower(fields.Key())
		if skippedHeaders[k] || strings.HasPrefix(k, "x-spam") {
			continue
		}
		z.add("h:" + k)
	}
	if subj, err := h.Subject(); err == nil {
		z.words("s:", strings.NewReader(subj), 1024)
	}
	if addrs, err := h.AddressList("From"); err == nil && len(addrs) == 1 {
		from = strings.ToLower(addrs[0].Address)
		z.add("from:" + from)
		if d := domainOf(from); d != "" {
			z.add("fromdom:" + d)
		}
		z.words("fromname:", strings.NewReader(addrs[0].Name), 256)
	} else {
		z.add("from:none")
	}
	if addrs, err := h.AddressList("Reply-To"); err == nil && len(addrs) > 0 {
		z.add("replyto:" + domainOf(strings.ToLower(addrs[0].Address)))
	}
	for _, k := range []string{"To", "Cc", "Bcc"} {
		addrs, _ := h.AddressList(k)
		for _, a := range addrs {
			if len(rcpts) < 100 {
				rcpts = append(rcpts, strings.ToLower(a.Address))
			}
		}
	}
	switch n := len(rcpts); {
	case n == 0:
		z.add("rcpts:none")
	case n > 10:
		z.add("rcpts:many")
	}
	for _, k := range []string{"X-Mailer", "User-Agent"} {
		if v := h.Get(k); v != "" {
			z.words("mailer:", strings.NewReader(v), 256)
		}
	}
	if id := h.Get("Message-Id"); id != "" {
		if i := strings.LastIndexByte(id, '@'); i >= 0 {
			z.add("msgid:" + strings.ToLower(strings.Trim(id[i+1:], "> ")))
		}
	} else {
		z.add("msgid:none")
	}
	return from, rcpts
}

// entity walks one MIME entity: multiparts recursively (bounded), text
// parts into words and URL hosts, others as their type and file name.
func (z *tokenizer) entity(e *message.Entity, depth int) {
	z.parts++
	mt, params, _ := e.Header.ContentType()
	if mt == "" {
		mt = "text/plain"
	}
	z.add("ct:" + mt)
	if mr := e.MultipartReader(); mr != nil {
		if depth >= maxDepth {
			z.add("meta:deep")
			return
		}
		for z.parts < maxParts {
			p, err := mr.NextPart()
			if err != nil {
				if err != io.EOF {
					z.add("meta:bad-multipart")
				}
				return
			}
			z.entity(p, depth+1)
		}
		return
	}
	if _, ok := params["charset"]; ok {
		z.add("charset:" + strings.ToLower(params["charset"]))
	}
	if disp, dp, err := e.Header.ContentDisposition(); err == nil && (disp == "attachment" || dp["filename"] != "") {
		if ext := strings.ToLower(path.Ext(dp["filename"])); ext != "" && len(ext) <= 8 {
			z.add("attach:" + ext)
		} else {
			z.add("attach:" + mt)
		}
		return
	}
	if !strings.HasPrefix(mt, "text/") {
		return
	}
	room := maxText - z.text
	if room <= 0 {
		return
	}
	raw, _ := io.ReadAll(io.LimitReader(e.Body, int64(room)))
	z.text += len(raw)
	text := string(raw)
	z.urls(text)
	if mt == "text/html" {
		text = stripHTML(text)
	}
	z.words("w:", strings.NewReader(text), len(text))
}

// urlRE finds http(s) URLs' hosts; urls keeps at most maxURLHost bytes
// of each. A counted repetition ({0,250}) here would compile into a
// program of hundreds of states at every start of the binary (3 ms on a
// quiet machine, 25 ms on a loaded one: package init runs before serve
// listens), so the bound is applied after the match.
var urlRE = regexp.MustCompile(`(?i)\bhttps?://([a-z0-9][a-z0-9.-]*)`)

const maxURLHost = 251

// urls adds the host of every http(s) URL, and its last two labels.
func (z *tokenizer) urls(text string) {
	n := 0
	for _, m := range urlRE.FindAllStringSubmatch(text, 200) {
		host := m[1]
		if len(host) > maxURLHost {
			host = host[:maxURLHost]
		}
		host = strings.TrimRight(strings.ToLower(host), ".-")
		z.add("u:" + host)
		if labels := strings.Split(host, "."); len(labels) > 2 {
			z.add("u:" + strings.Join(labels[len(labels)-2:], "."))
		}
		n++
	}
	switch {
	case n == 0:
	case n > 10:
		z.add("meta:many-urls")
	default:
		z.add("meta:urls")
	}
}

// stripHTML drops tags, comments, scripts and styles and unescapes
// entities. It is a tokenizer's view, not a sanitizer.
func stripHTML(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		b.WriteByte(' ')
		s = s[i:]
		lower := strings.ToLower(s[:min(len(s), 8)])
		end := ">"
		switch {
		case strings.HasPrefix(lower, "<!--"):
			end = "-->"
		case strings.HasPrefix(lower, "<script"):
			end = "</script>"
		case strings.HasPrefix(lower, "<style"):
			end = "</style>"
		}
		j := indexFold(s, end)
		if j < 0 {
			break
		}
		s = s[j+len(end):]
	}
	return html.UnescapeString(b.String())
}

// indexFold is strings.Index with ASCII case folding of s (end is lower case).
func indexFold(s, end string) int {
	if end == ">" {
		return strings.IndexByte(s, '>')
	}
	for i := 0; i+len(end) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(end)], end) {
			return i
		}
	}
	return -1
}

// words splits r (at most limit bytes) into lower-case words of letters
// and digits and adds them with prefix. Words of only digits are folded
// into one token per length; very long words into "long".
func (z *tokenizer) words(prefix string, r io.Reader, limit int) {
	sc := bufio.NewScanner(io.LimitReader(r, int64(limit)))
	sc.Buffer(make([]byte, 4096), 64<<10)
	sc.Split(scanWords)
	for sc.Scan() && len(z.toks) < maxTokens {
		w := strings.ToLower(sc.Text())
		n := utf8.RuneCountInString(w)
		switch {
		case n < minWordLen:
		case n > maxWordLen:
			z.add(prefix + "long")
		case isDigits(w):
			z.add(prefix + "num" + string(rune('0'+min(n, 9))))
		default:
			z.add(prefix + w)
		}
	}
}

// scanWords is a bufio.SplitFunc yielding runs of letters, digits, and
// inner apostrophes or dollar signs; invalid UTF-8 separates words.
func scanWords(data []byte, atEOF bool) (advance int, token []byte, err error) {
	start := 0
	for start < len(data) {
		r, w := utf8.DecodeRune(data[start:])
		if isWordRune(r) {
			break
		}
		start += w
	}
	for i := start; i < len(data); {
		r, w := utf8.DecodeRune(data[i:])
		if !isWordRune(r) {
			return i + w, data[start:i], nil
		}
		if i-start >= 4096 {
			return i, data[start:i], nil // one absurd "word": cut it
		}
		i += w
	}
	if atEOF && len(data) > start {
		return len(data), data[start:], nil
	}
	if atEOF {
		return len(data), nil, nil
	}
	return start, nil, nil
}

func isWordRune(r rune) bool {
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '$' || r == '€')
}

func isDigits(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] < '0' || w[i] > '9' {
			return false
		}
	}
	return true
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}
