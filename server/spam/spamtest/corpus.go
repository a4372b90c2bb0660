// Package spamtest generates a labelled corpus of ham and spam messages
// for the junk filter's tests (server/spam, the server's end-to-end tests).
// Nothing is downloaded: messages are built from a seeded random source,
// in several shapes per class (plain personal mail, replies with quotes,
// HTML newsletters, notifications, quoted-printable Latin-1 and base64
// text; pharmacy, advance-fee, phishing, crypto and attachment-only spam).
// The classes share a common vocabulary, and some ham uses spammy words
// (offers, "free", prices) and some spam business words, so the filter
// has to weigh evidence rather than match one word.
package spamtest

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime/quotedprintable"
	"strings"
)

// Message is one labelled message.
type Message struct {
	Spam  bool
	Shape string
	From  string
	Raw   string // CRLF line endings
}

// Corpus returns n ham and n spam messages, interleaved (ham, spam, ...),
// the same for the same seed.
func Corpus(seed uint64, n int) []Message {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	out := make([]Message, 0, 2*n)
	for i := 0; i < n; i++ {
		out = append(out, g.ham(i), g.spam(i))
	}
	return out
}

type gen struct{ r *rand.Rand }

func (g *gen) pick(words []string) string { return words[g.r.IntN(len(words))] }

// text makes n words, a share of them from the class vocabulary and the
// rest from the common one, in sentences.
func (g *gen) text(class []string, n int, share float64) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		w := g.pick(common)
		if g.r.Float64() < share {
			w = g.pick(class)
		}
		if i > 0 {
			if i%11 == 0 {
				b.WriteString(". ")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(w)
	}
	b.WriteString(".")
	return wrap(b.String())
}

// wrap breaks text into lines of at most 72 characters joined by CRLF.
func wrap(s string) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if len(line)+len(w)+1 > 72 && line != "" {
			lines = append(lines, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), "\r\n")
}

func (g *gen) header(from, name, to, subject string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s <%s>\r\nTo: %s\r\nSubject: %s\r\n", name, from, to, subject)
	fmt.Fprintf(&b, "Date: Tue, %d Dec 2026 %02d:%02d:00 +0000\r\n", 1+g.r.IntN(28), g.r.IntN(24), g.r.IntN(60))
	fmt.Fprintf(&b, "Message-ID: <%x@%s>\r\nMIME-Version: 1.0\r\n", g.r.Uint64(), domain(from))
	for _, e := range extra {
		b.WriteString(e + "\r\n")
	}
	return b.String()
}

func domain(addr string) string { return addr[strings.IndexByte(addr, '@')+1:] }

func (g *gen) ham(i int) Message {
	person := g.pick(firstNames)
	from := strings.ToLower(person) + "@" + g.pick(hamDomains)
	to := "alice@example.com"
	var raw, shape string
	switch i % 6 {
	case 0, 1:
		shape = "personal"
		subj := g.pick(hamSubjects)
		raw = g.header(from, person, to, subj, "User-Agent: Thunderbird/128.5") +
			"Content-Type: text/plain; charset=utf-8\r\n\r\nHi Alice,\r\n\r\n" + g.text(hamWords, 40+g.r.IntN(80), 0.5) +
			"\r\n\r\nThanks,\r\n" + person + "\r\n"
	case 2:
		shape = "reply"
		subj := "Re: " + g.pick(hamSubjects)
		quoted := strings.ReplaceAll(g.text(hamWords, 30, 0.5), "\r\n", "\r\n> ")
		raw = g.header(from, person, to, subj, "In-Reply-To: <x@example.com>", "X-Mailer: Microsoft Outlook 16.0") +
			"Content-Type: text/plain; charset=utf-8\r\n\r\n" + g.text(hamWords, 20+g.r.IntN(40), 0.5) +
			"\r\n\r\nOn Monday Alice wrote:\r\n> " + quoted + "\r\n"
	case 3:
		shape = "newsletter"
		from = "news@" + g.pick([]string{"lwn.example", "golangweekly.example", "acm.example"})
		body := g.text(append(newsWords, "offer", "free", "discount"), 80+g.r.IntN(80), 0.55)
		html := "<html><body><h1>" + g.pick(newsSubjects) + "</h1><p>" + strings.ReplaceAll(body, "\r\n", " ") +
			"</p><p><a href=\"https://" + domain(from) + "/issue/" + fmt.Sprint(i) + "\">Read online</a></p></body></html>"
		raw = g.header(from, "Weekly News", to, g.pick(newsSubjects), "List-Unsubscribe: <https://"+domain(from)+"/unsubscribe>", "List-Id: <weekly."+domain(from)+">") +
			"Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body +
			"\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(html) + "\r\n--b1--\r\n"
	case 4:
		shape = "notification"
		from = "ci@builds.example.dev"
		n := 1000 + g.r.IntN(9000)
		raw = g.header(from, "CI", to, fmt.Sprintf("Build #%d %s on main", n, g.pick([]string{"passed", "failed", "fixed"}))) +
			"Content-Type: text/plain; charset=utf-8\r\n\r\n" + g.text(ciWords, 25+g.r.IntN(30), 0.6) +
			fmt.Sprintf("\r\n\r\nDetails: https://builds.example.dev/job/%d\r\n", n)
	default:
		shape = "latin1"
		from = strings.ToLower(person) + "@" + g.pick([]string{"firma.example.de", "societe.example.fr"})
		body := "Bonjour Alice, voilà le résumé de la réunion. Grüße aus München, " + g.text(hamWords, 40+g.r.IntN(40), 0.5)
		raw = g.header(from, person, to, "=?iso-8859-1?q?R=E9union_"+fmt.Sprint(i)+"?=") +
			"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qpLatin1(body) + "\r\n"
	}
	return Message{Spam: false, Shape: shape, From: from, Raw: raw}
}

func (g *gen) spam(i int) Message {
	from := g.pick(spamUsers) + fmt.Sprint(g.r.IntN(999)) + "@" + g.pick(spamDomains)
	to := "alice@example.com"
	if g.r.IntN(3) == 0 {
		to = "undisclosed-recipients:;"
	}
	host := g.pick(spamHosts)
	var raw, shape string
	switch i % 5 {
	case 0:
		shape = "pharmacy"
		html := "<html><body><table><tr><td><font size=5><b>" + g.pick(pharmaSubjects) + "</b></font></td></tr></table><p>" +
			strings.ReplaceAll(g.text(pharmaWords, 40+g.r.IntN(40), 0.6), "\r\n", " ") +
			"</p><a href=\"http://" + host + "/?id=" + fmt.Sprint(g.r.IntN(1e6)) + "\">ORDER NOW</a></body></html>"
		raw = g.header(from, g.pick(spamNames), to, g.pick(pharmaSubjects)) +
			"Content-Type: text/html; charset=\"windows-1252\"\r\n\r\n" + wrap(html) + "\r\n"
	case 1:
		shape = "advance-fee"
		raw = g.header(from, "Barrister "+g.pick(spamNames), to, g.pick(fraudSubjects), "Reply-To: <claims@"+g.pick(spamDomains)+">") +
			"Content-Type: text/plain; charset=utf-8\r\n\r\nDear Friend,\r\n\r\n" + strings.ToUpper(g.text(fraudWords, 60+g.r.IntN(60), 0.55)[:40]) +
			" " + g.text(fraudWords, 60+g.r.IntN(80), 0.55) + "\r\n"
	case 2:
		shape = "phishing"
		brand := g.pick([]string{"PayPal", "Microsoft", "DHL", "Netflix", "Your Bank"})
		html := "<html><body><p>Dear Customer,</p><p>" + strings.ReplaceAll(g.text(phishWords, 30+g.r.IntN(30), 0.6), "\r\n", " ") +
			"</p><p><a href=\"https://" + host + "/" + strings.ToLower(strings.ReplaceAll(brand, " ", "")) + "/login\">Verify your account</a></p><p>" + brand + " Security Team</p></body></html>"
		raw = g.header(from, brand+" Support", to, g.pick(phishSubjects)) +
			"Content-Type: multipart/alternative; boundary=\"zz\"\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\n" + g.text(phishWords, 20, 0.6) +
			"\r\n--zz\r\nContent-Type: text/html\r\n\r\n" + wrap(html) + "\r\n--zz--\r\n"
	case 3:
		shape = "crypto"
		raw = g.header(from, g.pick(spamNames), to, g.pick(cryptoSubjects), "X-Mailer: PHPMailer 5.2.1") +
			"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			b64(g.text(cryptoWords, 50+g.r.IntN(70), 0.6)+"\r\nhttps://"+host+"/join\r\n") + "\r\n"
	default:
		shape = "attachment"
		name := g.pick([]string{"invoice", "document", "scan", "payment"}) + fmt.Sprint(g.r.IntN(9999)) + g.pick([]string{".zip", ".exe", ".html"})
		raw = g.header(from, g.pick(spamNames), to, g.pick(attachSubjects)) +
			"Content-Type: multipart/mixed; boundary=\"aa\"\r\n\r\n--aa\r\nContent-Type: text/plain\r\n\r\n" + g.text(attachWords, 10+g.r.IntN(20), 0.6) +
			"\r\n--aa\r\nContent-Type: application/octet-stream; name=\"" + name + "\"\r\nContent-Disposition: attachment; filename=\"" + name +
			"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(strings.Repeat("MZ\x90\x00binary", 20)) + "\r\n--aa--\r\n"
	}
	return Message{Spam: true, Shape: shape, From: from, Raw: raw}
}

func b64(s string) string {
	enc := base64.StdEncoding.EncodeToString([]byte(s))
	var lines []string
	for len(enc) > 76 {
		lines = append(lines, enc[:76])
		enc = enc[76:]
	}
	return strings.Join(append(lines, enc), "\r\n")
}

func qpLatin1(s string) string {
	var latin []byte
	for _, r := range s {
		if r < 256 {
			latin = append(latin, byte(r))
		} else {
			latin = append(latin, '?')
		}
	}
	var b strings.Builder
	w := quotedprintable.NewWriter(&b)
	w.Write(latin)
	w.Close()
	return strings.ReplaceAll(strings.ReplaceAll(b.String(), "\r\n", "\n"), "\n", "\r\n")
}
