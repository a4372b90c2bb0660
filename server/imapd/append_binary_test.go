package imapd

import (
	"bytes"
	"strings"
	"testing"
)

// encodeNULParts base64-encodes exactly the part bodies with a NUL, in any
// nesting and line-ending style, and leaves every other byte alone.
func TestEncodeNULParts(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"no NUL", "Subject: x\r\n\r\nhi\r\n", "Subject: x\r\n\r\nhi\r\n"},
		{"LF only", "Subject: x\n\n\x00\n", "Content-Transfer-Encoding: base64\r\nSubject: x\r\n\r\nAAo="},
		{"nested message",
			"Content-Type: message/rfc822\r\n\r\nContent-Type: text/plain\r\n\r\na\x00b",
			"Content-Type: message/rfc822\r\n\r\nContent-Transfer-Encoding: base64\r\nContent-Type: text/plain\r\n\r\nYQBi"},
		{"no close delimiter",
			"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\nok\r\n--z\r\n\r\n\x00",
			"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\nok\r\n--z\r\nContent-Transfer-Encoding: base64\r\n\r\nAA=="},
	} {
		got, err := encodeNULParts([]byte(c.in))
		if err != nil || string(got) != c.want {
			t.Errorf("%s:\n got %q %v\nwant %q", c.name, got, err, c.want)
		}
	}
	long := "Content-Type: application/octet-stream\r\n\r\n" + strings.Repeat("\x00", 100)
	got, err := encodeNULParts([]byte(long))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(got[strings.Index(string(got), "\r\n\r\n")+4:]), "\r\n") {
		if len(l) > 76 {
			t.Errorf("base64 line of %d characters", len(l))
		}
	}
	deep := strings.Repeat("Content-Type: message/rfc822\r\n\r\n", maxBinaryDepth+2) + "\r\n\x00"
	if _, err := encodeNULParts([]byte(deep)); err == nil {
		t.Error("a NUL below the depth limit was walked")
	}
}

// FuzzEncodeNULParts: any input either is refused or comes out without a
// NUL; it never panics.
func FuzzEncodeNULParts(f *testing.F) {
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n\x00\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: message/rfc822\n\n\n\x00"))
	f.Add([]byte("\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := encodeNULParts(in)
		if err == nil && bytes.IndexByte(out, 0) >= 0 {
			t.Fatalf("NUL left in %q", out)
		}
	})
}
