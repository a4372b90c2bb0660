// Package web owns mailsrv's HTTP surface: client autoconfiguration
// (Thunderbird autoconfig, Outlook autodiscover POX and its JSON v2
// endpoint), the MTA-STS policy, the ACME http-01 challenge (delegated to
// tlsconf), and the separate metrics listener's /metrics and /healthz.
// Every other path goes to the web console (server/web/console) when the
// server configures one.
//
// It knows nothing about the store: local domains come in as func values
// evaluated per request, so `domain add` takes effect without a restart and
// this package can be tested with plain closures. Answers describe only the
// server (hostname, ports, TLS mode) and which domains are local; they never
// reveal whether a mailbox exists, so autoconfig cannot be used to
// enumerate users.
package web

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"mailsrv/server/metrics"
	"mailsrv/server/tlsconf"
)

// Production ports advertised to clients when Options leaves them 0. They
// are what clients connect to from outside (after any port forwarding), so
// they are configured separately from the listen addresses.
const (
	DefaultIMAPSPort       = 993
	DefaultSubmissionsPort = 465
	DefaultSubmissionPort  = 587
)

// mtaSTSMaxAge is the policy lifetime in seconds (one week), the value
// RFC 8461 suggests and large providers publish.
const mtaSTSMaxAge = "604800"

// maxBodyBytes bounds autodiscover request bodies; real ones are < 1 KiB.
const maxBodyBytes = 64 << 10

// Options configures a Server.
type Options struct {
	// Hostname is the MX/IMAP/submission host name advertised to clients.
	Hostname string
	// Domains lists the local domains. Used when IsLocalDomain is nil.
	Domains func(ctx context.Context) []string
	// IsLocalDomain reports whether a (lowercase) domain is served here.
	IsLocalDomain func(ctx context.Context, domain string) bool
	// MTASTSMode is "testing" (default when empty), "enforce" or "none".
	MTASTSMode string
	// Advertised ports; 0 means the production default.
	IMAPSPort, SubmissionsPort, SubmissionPort int
	// TLS, when non-nil, answers ACME http-01 challenges (acme mode).
	TLS *tlsconf.Manager
	// Healthy backs /healthz: nil error means healthy. Nil means always healthy.
	Healthy func() error
	// Console, when non-nil, serves every other path: the login page, the
	// admin console and API (server/web/console).
	Console http.Handler
	// Logger; nil discards.
	Logger *slog.Logger
}

// Server serves the HTTP endpoints. Create it with New.
type Server struct {
	opts Options
	log  *slog.Logger
}

// New returns a Server with defaults filled in.
func New(opts Options) *Server {
	if opts.IMAPSPort == 0 {
		opts.IMAPSPort = DefaultIMAPSPort
	}
	if opts.SubmissionsPort == 0 {
		opts.SubmissionsPort = DefaultSubmissionsPort
	}
	if opts.SubmissionPort == 0 {
		opts.SubmissionPort = DefaultSubmissionPort
	}
	if opts.MTASTSMode == "" {
		opts.MTASTSMode = "testing"
	}
	opts.Hostname = strings.TrimSuffix(strings.ToLower(opts.Hostname), ".")
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: opts, log: log.With("component", "web")}
}

// Handler is the handler for the http and https listeners.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	// Thunderbird asks http(s)://autoconfig.<domain>/mail/config-v1.1.xml
	// and http(s)://<domain>/.well-known/autoconfig/mail/config-v1.1.xml.
	mux.HandleFunc("GET /mail/config-v1.1.xml", s.autoconfig)
	mux.HandleFunc("GET /.well-known/autoconfig/mail/config-v1.1.xml", s.autoconfig)
	// Outlook's spelling varies between versions; the mux is case-sensitive.
	for _, p := range []string{"/autodiscover/autodiscover.xml", "/Autodiscover/Autodiscover.xml", "/AutoDiscover/AutoDiscover.xml"} {
		mux.HandleFunc("POST "+p, s.autodiscoverXML)
		mux.HandleFunc("GET "+p, s.autodiscoverXML)
	}
	for _, p := range []string{"/autodiscover/autodiscover.json", "/Autodiscover/Autodiscover.json"} {
		mux.HandleFunc("GET "+p, s.autodiscoverJSON)
		mux.HandleFunc("GET "+p+"/", s.autodiscoverJSON) // .../v1.0/{email}
	}
	mux.HandleFunc("GET /.well-known/mta-sts.txt", s.mtaSTS)
	if s.opts.Console != nil {
		mux.Handle("/", s.opts.Console)
	}

	var h http.Handler = mux
	if s.opts.TLS != nil {
		h = s.opts.TLS.HTTPHandler(mux)
	}
	return h
}

// MetricsHandler is the handler for the separate (loopback by default)
// metrics listener: /metrics from m (404 if m is nil) and /healthz.
func (s *Server) MetricsHandler(m *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if s.opts.Healthy != nil {
			if err := s.opts.Healthy(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				io.WriteString(w, "unhealthy: "+err.Error()+"\n")
				return
			}
		}
		io.WriteString(w, "ok\n")
	})
	return mux
}

// isLocal reports whether domain (already lowercased) is served here.
func (s *Server) isLocal(ctx context.Context, domain string) bool {
	if domain == "" {
		return false
	}
	if s.opts.IsLocalDomain != nil {
		return s.opts.IsLocalDomain(ctx, domain)
	}
	if s.opts.Domains != nil {
		for _, d := range s.opts.Domains(ctx) {
			if strings.EqualFold(strings.TrimSuffix(d, "."), domain) {
				return true
			}
		}
	}
	return false
}

// requestHost returns the request's Host without port, lowercased.
func requestHost(r *http.Request) string {
	h := r.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// errBadAddress is returned for a syntactically unusable email address.
var errBadAddress = errors.New("not an email address")

// addressDomain splits an email address and returns it trimmed and its
// lowercased domain.
func addressDomain(addr string) (string, string, error) {
	addr = strings.TrimSpace(addr)
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 || strings.ContainsAny(addr, " \t\r\n<>") || len(addr) > 320 {
		return "", "", errBadAddress
	}
	return addr, strings.TrimSuffix(strings.ToLower(addr[at+1:]), "."), nil
}

// --- Thunderbird autoconfig -------------------------------------------------

// The structs follow https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat;
// the element names are what Thunderbird's parser reads.
type clientConfig struct {
	XMLName  xml.Name      `xml:"clientConfig"`
	Version  string        `xml:"version,attr"`
	Provider emailProvider `xml:"emailProvider"`
}

type emailProvider struct {
	ID               string       `xml:"id,attr"`
	Domain           string       `xml:"domain"`
	DisplayName      string       `xml:"displayName"`
	DisplayShortName string       `xml:"displayShortName"`
	Incoming         []mailServer `xml:"incomingServer"`
	Outgoing         []mailServer `xml:"outgoingServer"`
}

type mailServer struct {
	Type           string `xml:"type,attr"`
	Hostname       string `xml:"hostname"`
	Port           int    `xml:"port"`
	SocketType     string `xml:"socketType"`
	Username       string `xml:"username"`
	Authentication string `xml:"authentication"`
}

func (s *Server) autoconfig(w http.ResponseWriter, r *http.Request) {
	// The domain comes from ?emailaddress= (Thunderbird sends it), else
	// from the Host the client asked (autoconfig.<domain> or <domain>).
	var domain string
	if addr := r.URL.Query().Get("emailaddress"); addr != "" {
		_, d, err := addressDomain(addr)
		if err != nil {
			http.Error(w, "emailaddress: "+err.Error(), http.StatusBadRequest)
			return
		}
		domain = d
	} else {
		domain = strings.TrimPrefix(requestHost(r), "autoconfig.")
	}
	if !s.isLocal(r.Context(), domain) {
		http.NotFound(w, r)
		return
	}
	server := func(typ string, port int, socket string) mailServer {
		return mailServer{
			Type: typ, Hostname: s.opts.Hostname, Port: port, SocketType: socket,
			Username: "%EMAILADDRESS%", Authentication: "password-cleartext",
		}
	}
	cfg := clientConfig{
		Version: "1.1",
		Provider: emailProvider{
			ID: domain, Domain: domain, DisplayName: domain, DisplayShortName: domain,
			Incoming: []mailServer{server("imap", s.opts.IMAPSPort, "SSL")},
			// Implicit TLS first: RFC 8314 prefers it over STARTTLS.
			Outgoing: []mailServer{
				server("smtp", s.opts.SubmissionsPort, "SSL"),
				server("smtp", s.opts.SubmissionPort, "STARTTLS"),
			},
		},
	}
	s.writeXML(w, "application/xml", cfg)
}

func (s *Server) writeXML(w http.ResponseWriter, contentType string, v any) {
	out, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		s.log.Error("encoding XML response", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType+"; charset=utf-8")
	io.WriteString(w, xml.Header)
	w.Write(out)
	io.WriteString(w, "\n")
}

// --- MTA-STS ----------------------------------------------------------------

func (s *Server) mtaSTS(w http.ResponseWriter, r *http.Request) {
	host := requestHost(r)
	domain, ok := strings.CutPrefix(host, "mta-sts.")
	if !ok || !s.isLocal(r.Context(), domain) {
		http.NotFound(w, r)
		return
	}
	// RFC 8461 §3.2: key/value lines; CRLF is the canonical delimiter.
	body := "version: STSv1\r\n" +
		"mode: " + s.opts.MTASTSMode + "\r\n" +
		"mx: " + s.opts.Hostname + "\r\n" +
		"max_age: " + mtaSTSMaxAge + "\r\n"
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, body)
}
