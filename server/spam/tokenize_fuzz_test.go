package spam

import (
	"strings"
	"testing"
	"time"

	"mailsrv/server/spam/spamtest"
)

// FuzzTokenize: any input, however huge or malformed, tokenizes without
// panicking, within the token bound and in bounded time. Seeds: the
// generated corpus' shapes and hostile structures (deep multiparts,
// endless headers, broken encodings).
func FuzzTokenize(f *testing.F) {
	for _, m := range spamtest.Corpus(11, 6) {
		f.Add([]byte(m.Raw))
	}
	deep := "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	for i := 0; i < 50; i++ {
		deep += "--b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
	}
	for _, s := range []string{
		"", "\r\n\r\n", "Subject: x", deep,
		"From: a@b\r\nContent-Type: text/html\r\n\r\n<script>" + strings.Repeat("<", 5000),
		"Content-Type: text/plain; charset=x-unknown\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64",
		"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n=",
		strings.Repeat("X-H: v\r\n", 2000) + "\r\nbody",
		"Subject: " + strings.Repeat("a", 10000) + "\r\n\r\n" + strings.Repeat("word ", 10000),
		"Content-Type: multipart/alternative; boundary=\"\"\r\n\r\n--\r\n\r\n--",
		"\xff\xfe\x00From: \x00\r\n\r\n\xc3\x28 http://" + strings.Repeat("a.", 300),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		feat := Tokenize(strings.NewReader(string(data)))
		if len(feat.Tokens) > maxTokens {
			t.Fatalf("%d tokens, bound is %d", len(feat.Tokens), maxTokens)
		}
		for _, tok := range feat.Tokens {
			if len(tok) > 300 {
				t.Fatalf("token of %d bytes", len(tok))
			}
		}
		if len(feat.Recipients) > 100 {
			t.Fatalf("%d recipients", len(feat.Recipients))
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("tokenizing %d bytes took %s", len(data), d)
		}
	})
}

// A 50 MB message costs what its first MiB costs.
func TestTokenizeHugeMessageBounded(t *testing.T) {
	huge := "From: a@b.example\r\nSubject: big\r\nContent-Type: text/plain\r\n\r\n" + strings.Repeat("lorem ipsum dolor sit amet ", 2<<20)
	start := time.Now()
	feat := Tokenize(strings.NewReader(huge))
	if d := time.Since(start); d > 3*time.Second || len(feat.Tokens) == 0 || len(feat.Tokens) > maxTokens {
		t.Fatalf("huge message: %d tokens in %s", len(feat.Tokens), d)
	}
}
