// Package tlsconf owns where mailsrv's TLS certificates come from, for every
// TLS listener (SMTP STARTTLS/465, IMAP STARTTLS/993, HTTPS):
//
//   - "self-signed": an ECDSA P-256 certificate for the hostname (plus
//     localhost, 127.0.0.1 and ::1) generated once into
//     <data_dir>/tls/selfsigned.crt|.key and reused on later starts, so a
//     client that was told to trust it once keeps trusting it.
//   - "files": cert_file/key_file, re-read by Reload (the server calls it on
//     SIGHUP) and by a poller that watches both files' mtime and size, so a
//     certbot/lego renewal is picked up without a restart.
//   - "acme": golang.org/x/crypto/acme/autocert with its cache in
//     <data_dir>/acme, for the hostname and the autoconfig.<domain> and
//     mta-sts.<domain> names of every local domain. The domain list is read
//     at handshake time through a func value, so `domain add` needs no
//     restart and this package does not depend on the store.
//
// Every listener gets a tls.Config whose GetCertificate reads the current
// certificate per handshake; that is what makes a reload apply to new
// connections while existing ones continue undisturbed.
package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"mailsrv/server/config"
)

// Modes accepted in cfg.TLS.Mode.
const (
	ModeACME       = "acme"
	ModeFiles      = "files"
	ModeSelfSigned = "self-signed"
)

// defaultPollInterval is how often files mode checks cert/key for changes.
// Renewals happen at most daily; a few seconds of lag is irrelevant and the
// stat calls are negligible.
const defaultPollInterval = 3 * time.Second

// Manager supplies certificates to all TLS listeners. Create it with New and
// release it with Close.
type Manager struct {
	mode     string
	hostname string
	domains  func() []string
	log      *slog.Logger

	// cert is the current certificate in files and self-signed mode.
	cert atomic.Pointer[tls.Certificate]

	// files mode
	certFile, keyFile string
	reloadMu          sync.Mutex // serialises Reload (SIGHUP vs poller)

	// acme mode
	acme *autocert.Manager

	pollInterval time.Duration
	stop         chan struct{}
	done         chan struct{}
	closeOnce    sync.Once
}

// New prepares certificates according to cfg.TLS.Mode. domains lists the
// local domains (may be nil: then only the hostname is served in acme mode).
// A nil log discards log output.
func New(cfg *config.Config, domains func() []string, log *slog.Logger) (*Manager, error) {
	return newManager(cfg, domains, log, defaultPollInterval)
}

// newManager is New with the files-mode poll interval as a parameter, so
// tests need not wait seconds for the watcher.
func newManager(cfg *config.Config, domains func() []string, log *slog.Logger, poll time.Duration) (*Manager, error) {
	if cfg == nil {
		return nil, errors.New("tlsconf: nil config")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if domains == nil {
		domains = func() []string { return nil }
	}
	host := normalizeHost(cfg.Hostname)
	if host == "" {
		return nil, errors.New("tlsconf: hostname is empty; set `hostname` in the config")
	}
	m := &Manager{
		mode:         cfg.TLS.Mode,
		hostname:     host,
		domains:      domains,
		log:          log.With("component", "tls", "mode", cfg.TLS.Mode),
		pollInterval: poll,
	}
	switch cfg.TLS.Mode {
	case ModeSelfSigned:
		if cfg.DataDir == "" {
			return nil, errors.New("tlsconf: data_dir is empty; self-signed mode keeps its certificate there")
		}
		c, err := loadOrCreateSelfSigned(filepath.Join(cfg.DataDir, "tls"), host, m.log)
		if err != nil {
			return nil, err
		}
		m.cert.Store(c)
	case ModeFiles:
		if cfg.TLS.CertFile == "" || cfg.TLS.KeyFile == "" {
			return nil, errors.New("tlsconf: tls.mode = \"files\" needs tls.cert_file and tls.key_file")
		}
		m.certFile, m.keyFile = cfg.TLS.CertFile, cfg.TLS.KeyFile
		// Stamp the files before loading them, here and not in the
		// watcher goroutine: a change that lands between the load and the
		// goroutine's first look would otherwise never be noticed.
		certStamp, keyStamp := stampOf(m.certFile), stampOf(m.keyFile)
		if err := m.Reload(); err != nil {
			return nil, err
		}
		m.stop, m.done = make(chan struct{}), make(chan struct{})
		go m.watch(m.pollInterval, certStamp, keyStamp)
	case ModeACME:
		if cfg.DataDir == "" {
			return nil, errors.New("tlsconf: data_dir is empty; acme mode caches account and certificates there")
		}
		m.acme = &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			Cache:      autocert.DirCache(filepath.Join(cfg.DataDir, "acme")),
			HostPolicy: m.hostPolicy,
			Email:      cfg.TLS.ACMEEmail,
			// An empty DirectoryURL makes the acme package use Let's
			// Encrypt production.
			Client: &acme.Client{DirectoryURL: cfg.TLS.ACMEDirectoryURL},
		}
	default:
		return nil, fmt.Errorf("tlsconf: unknown tls.mode %q; use \"acme\", \"files\" or \"self-signed\"", cfg.TLS.Mode)
	}
	return m, nil
}

// Mode returns the configured mode.
func (m *Manager) Mode() string { return m.mode }

// TLSConfig returns a fresh tls.Config for one listener. Certificates are
// looked up per handshake, so Reload and ACME renewals reach new connections.
func (m *Manager) TLSConfig() *tls.Config {
	c := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: m.getCertificate,
	}
	if m.acme != nil {
		// Lets the CA validate via tls-alpn-01 when a TLS listener is on
		// :443; otherwise autocert falls back to http-01 on the http
		// listener (see HTTPHandler).
		c.NextProtos = []string{acme.ALPNProto}
	}
	return c
}

// getCertificate is the tls.Config.GetCertificate of every listener.
func (m *Manager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if m.acme != nil {
		// Some mail clients send no SNI (or an IP). autocert needs a name to
		// pick a certificate, and the hostname is the one we publish as MX,
		// IMAP and submission host, so use it.
		if hello.ServerName == "" {
			h := *hello
			h.ServerName = m.hostname
			hello = &h
		}
		return m.acme.GetCertificate(hello)
	}
	c := m.cert.Load()
	if c == nil {
		return nil, errors.New("tlsconf: no certificate loaded")
	}
	return c, nil
}

// HTTPHandler wraps the handler of the plain-http listener. In acme mode it
// answers http-01 challenges under /.well-known/acme-challenge/ and passes
// everything else to fallback; in other modes it returns fallback. A nil
// fallback means 404 outside acme mode and autocert's redirect to https in
// acme mode.
func (m *Manager) HTTPHandler(fallback http.Handler) http.Handler {
	if m.acme != nil {
		return m.acme.HTTPHandler(fallback)
	}
	if fallback == nil {
		return http.NotFoundHandler()
	}
	return fallback
}

// Warm obtains (or loads from cache) the hostname's certificate in acme mode
// so the first IMAP/SMTP client does not wait for issuance. It is a no-op in
// other modes. The server may call it in a goroutine after the http listener
// is up (http-01 needs it). autocert bounds the issuance with its own
// timeout.
func (m *Manager) Warm() error {
	if m.acme == nil {
		return nil
	}
	_, err := m.acme.GetCertificate(&tls.ClientHelloInfo{ServerName: m.hostname})
	return err
}

// hostPolicy allows the hostname and autoconfig./mta-sts. names of the
// local domains at the time of the call. Anything else is refused before
// any request reaches the CA, so random SNI values cannot burn rate limits.
func (m *Manager) hostPolicy(_ context.Context, host string) error {
	host = normalizeHost(host)
	if host == m.hostname {
		return nil
	}
	for _, d := range m.domains() {
		d = normalizeHost(d)
		if d == "" {
			continue
		}
		if host == "autoconfig."+d || host == "mta-sts."+d {
			return nil
		}
	}
	return fmt.Errorf("tlsconf: host %q is not the hostname or an autoconfig./mta-sts. name of a local domain", host)
}

// Reload re-reads cert_file and key_file in files mode; the new pair is used
// for new handshakes. On error the previous certificate stays in use. In
// other modes it does nothing (autocert renews by itself; the self-signed
// certificate never changes while running).
func (m *Manager) Reload() error {
	if m.mode != ModeFiles {
		return nil
	}
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	c, err := tls.LoadX509KeyPair(m.certFile, m.keyFile)
	if err != nil {
		return fmt.Errorf("tlsconf: loading %s and %s: %w", m.certFile, m.keyFile, err)
	}
	if c.Leaf != nil {
		if time.Now().After(c.Leaf.NotAfter) {
			m.log.Warn("certificate has expired", "file", m.certFile, "not_after", c.Leaf.NotAfter)
		}
		if err := c.Leaf.VerifyHostname(m.hostname); err != nil {
			// Not fatal: the admin may use a name we don't know about, but
			// clients connecting to the hostname will complain.
			m.log.Warn("certificate does not cover hostname", "file", m.certFile, "hostname", m.hostname)
		}
	}
	m.cert.Store(&c)
	m.log.Info("certificate loaded", "file", m.certFile)
	return nil
}

// Close stops the file watcher. It is safe to call more than once.
func (m *Manager) Close() {
	m.closeOnce.Do(func() {
		if m.stop != nil {
			close(m.stop)
			<-m.done
		}
	})
}

// fileStamp identifies a version of a file cheaply.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{fi.ModTime(), fi.Size()}
}

// watch polls cert and key files and reloads when either changes. Polling
// instead of inotify: it works for symlink swaps (certbot's live/ dir), on
// every OS, and without another dependency.
func (m *Manager) watch(every time.Duration, certStamp, keyStamp fileStamp) {
	defer close(m.done)
	// retry is set while the files on disk failed to load. A renewal tool
	// writing cert then key produces a mismatched pair for a moment, and
	// file timestamps are coarse enough that the second write may not
	// change a stamp we already saw, so a failed load is retried at every
	// tick until it succeeds, and logged only once per change.
	retry := false
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		c, k := stampOf(m.certFile), stampOf(m.keyFile)
		changed := c != certStamp || k != keyStamp
		if !changed && !retry {
			continue
		}
		certStamp, keyStamp = c, k
		err := m.Reload()
		if err != nil && changed {
			m.log.Error("reloading changed certificate failed; keeping the previous one", "err", err)
		}
		retry = err != nil
	}
}

// normalizeHost lowercases and strips a trailing dot and any port.
func normalizeHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") && strings.Count(h, ":") == 1 {
		h = h[:i]
	}
	return strings.TrimSuffix(h, ".")
}
