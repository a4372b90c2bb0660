package server

import (
	"log/slog"
	"net/http"
	"testing"
)

// TestHTTPServerTimeouts (issue 12 #8): every web listener bounds the
// header (and with it the TLS handshake, which net/http bounds by the
// smallest timeout), the whole request with its body, and idle keep-alive.
func TestHTTPServerTimeouts(t *testing.T) {
	hs := newHTTPServer(http.NotFoundHandler(), slog.Default())
	if hs.ReadHeaderTimeout <= 0 || hs.ReadHeaderTimeout > 30e9 {
		t.Errorf("ReadHeaderTimeout %v", hs.ReadHeaderTimeout)
	}
	if hs.ReadTimeout <= 0 || hs.IdleTimeout <= 0 {
		t.Errorf("ReadTimeout %v, IdleTimeout %v", hs.ReadTimeout, hs.IdleTimeout)
	}
}
