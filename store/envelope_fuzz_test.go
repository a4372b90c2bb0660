package store

import "testing"

// ParseEnvelope reads the header of every incoming message, whatever a
// sender put there: it must never panic. The seeds run with `go test`;
// `go test -fuzz FuzzParseEnvelope ./store/` explores further.
func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(testMsg))
	f.Add([]byte("From: =?utf-8?q?J=C3=BCrgen?= <j@x>, \"a, b\" <c@d>\r\nTo: undisclosed-recipients:;\r\nSubject: =?iso-8859-1?b?cullx?=\r\nIn-Reply-To: <a@b> <c@d>\r\n\r\n"))
	f.Add([]byte("Date: not a date\r\nFrom: <>\r\nMessage-ID: no brackets\r\n\r\n"))
	f.Add([]byte("From:\r\n\tfolded\r\n continued\r\n\r\n"))
	f.Add([]byte{0, '\r', '\n', 0xff, 0xfe, ':', '\n'})
	f.Fuzz(func(t *testing.T, raw []byte) {
		ParseEnvelope(raw)
	})
}
