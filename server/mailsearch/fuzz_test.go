package mailsearch

import (
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"mailsrv/store"
)

// The envelope-word prefilter (EnvelopeWords + store.MessagesWithWords)
// must never drop a message the full match would accept. For any subject
// and any SUBJECT/FROM search text: if matchHeader matches the stored
// message, the prefilter returns it.
func FuzzEnvelopePrefilterNeverDropsAMatch(f *testing.F) {
	f.Add("Quarterly Report", "report", "Jane <jane@remote.example>", "JANE@remote")
	f.Add("\u212aelvin", "kelvin", "\u0130stanbul <i@x.example>", "istanbul")
	f.Add("Grüße aus München", "MÜNCHEN", "=?utf-8?q?J=C3=BCrgen?= <j@x.example>", "jürgen <j")
	f.Add("a&b <c>", "&b <", "\"Doe, Jane\" <jd@x.example>", "doe, jane")
	st, err := store.Open(f.TempDir(), store.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	if err := st.AddDomain(f.Context(), store.Domain{Name: "example.com"}); err != nil {
		f.Fatal(err)
	}
	acct, err := st.AddUser(f.Context(), "alice@example.com", "", "x")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, subject, subjQuery, from, fromQuery string) {
		if strings.ContainsAny(subject+from, "\r\n") {
			return // not a header value
		}
		w, err := st.NewBlob(t.Context(), 0)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "From: "+from+"\r\nSubject: "+subject+"\r\n\r\nbody\r\n")
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		d, err := st.Deliver(t.Context(), store.Delivery{Blob: w, Targets: []store.Target{{MailboxID: acct.MailboxID}}})
		if err != nil {
			t.Fatal(err)
		}
		uid := []uint32{d[0].UID}
		full, err := st.Messages(t.Context(), d[0].FolderID, uid)
		if err != nil || len(full) != 1 {
			t.Fatal(err)
		}
		mc := &matchCtx{m: &full[0]}
		for _, q := range []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: subjQuery}, {Key: "From", Value: fromQuery}} {
			if !mc.matchHeader(t.Context(), q.Key, q.Value) {
				continue
			}
			c := &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{q}}
			got, err := st.MessagesWithWords(t.Context(), d[0].FolderID, uid, EnvelopeWords(c))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("%s %q matches the message (subject %q, from %q) but the prefilter dropped it (words %q)",
					q.Key, q.Value, subject, from, EnvelopeWords(c))
			}
		}
	})
}

// BODY/TEXT search decodes whatever MIME a sender made up: it must never
// panic, and never return more than its bound.
func FuzzDecodedText(f *testing.F) {
	f.Add([]byte("Content-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+aGk8L2I+\r\n--X--\r\n"))
	f.Add([]byte("Content-Type: text/plain; charset=x-unknown\r\nContent-Transfer-Encoding: x-weird\r\nSubject: =?bogus?q?x?=\r\n\r\nbody"))
	f.Add([]byte("Content-Type: multipart/alternative; boundary=\"\"\r\n\r\n--\r\n\r\n"))
	f.Add([]byte("Content-Type: text/html\r\n\r\n<script><style></script>text<!-- c -->&amp;&#x1F600;"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if b := decodedBody(raw); len(b) > maxDecodedText+1<<16 {
			t.Fatalf("decoded %d bytes", len(b))
		}
		decodedHeader(raw)
	})
}
