package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// listenAddrs returns the listener keys with their values, for validation.
func (l *Listen) listenAddrs() [][2]string {
	return [][2]string{
		{"smtp", l.SMTP}, {"submission", l.Submission}, {"submissions", l.Submissions},
		{"imap", l.IMAP}, {"imaps", l.IMAPS}, {"http", l.HTTP}, {"https", l.HTTPS},
		{"metrics", l.Metrics},
	}
}

// Validate checks every value and returns all problems found, each a
// *KeyError naming its key, joined with errors.Join; nil when c is usable.
// It does not touch the file system or network: whether a cert file exists
// or a port is free is for the code that opens them to report.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &KeyError{Key: key, Msg: key + ": " + fmt.Sprintf(format, args...)})
	}
	oneOf := func(key, v string, allowed []string) {
		if !slices.Contains(allowed, v) {
			bad(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
		}
	}
	hostPort := func(key, v string, needHost bool) {
		if v == "" {
			return
		}
		if err := checkHostPort(v, needHost); err != nil {
			bad(key, "%q: %v", v, err)
		}
	}
	nonNeg := func(key string, v int64) {
		if v < 0 {
			bad(key, "must not be negative (got %d)", v)
		}
	}
	positive := func(key string, v int64) {
		if v <= 0 {
			bad(key, "must be at least 1 (got %d)", v)
		}
	}

	// The hostname is lenient on purpose: the embedded default comes from
	// os.Hostname, and refusing to start over an odd laptop name helps no
	// one. It only has to be usable in SMTP greetings and certificates.
	switch {
	case c.Hostname == "":
		bad("hostname", "must not be empty")
	case strings.ContainsAny(c.Hostname, " \t\r\n/:@[]\\"):
		bad("hostname", "%q is not a host name", c.Hostname)
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty")
	}

	for _, kv := range c.Listen.listenAddrs() {
		hostPort("listen."+kv[0], kv[1], false)
	}

	oneOf("tls.mode", c.TLS.Mode, []string{"acme", "files", "self-signed"})
	if c.TLS.Mode == "files" {
		if c.TLS.CertFile == "" {
			errs = append(errs, &KeyError{Key: "tls.cert_file", near: "tls.mode",
				Msg: `tls.cert_file: must be set when tls.mode is "files"`})
		}
		if c.TLS.KeyFile == "" {
			errs = append(errs, &KeyError{Key: "tls.key_file", near: "tls.mode",
				Msg: `tls.key_file: must be set when tls.mode is "files"`})
		}
	}
	if e := c.TLS.ACMEEmail; e != "" && (!strings.Contains(e, "@") || strings.ContainsAny(e, " \t")) {
		bad("tls.acme_email", "%q is not an email address", e)
	}
	if u := c.TLS.ACMEDirectoryURL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			bad("tls.acme_directory_url", "%q is not an http(s) URL", u)
		}
	}
	oneOf("tls.mta_sts_mode", c.TLS.MTASTSMode, []string{"testing", "enforce", "none"})

	hostPort("dns.resolver", c.DNS.Resolver, true)

	o := &c.Outbound
	hostPort("outbound.relay", o.Relay, true)
	if o.Relay == "" && o.RelayUsername != "" {
		bad("outbound.relay_username", "is set but outbound.relay is empty")
	}
	if o.RelayPassword != "" && o.RelayUsername == "" {
		bad("outbound.relay_password", "is set but outbound.relay_username is empty")
	}
	if o.Port < 1 || o.Port > 65535 {
		bad("outbound.port", "%d is not a port (1-65535)", o.Port)
	}
	nonNeg("outbound.max_attempts", int64(o.MaxAttempts))
	if len(o.RetrySchedule) == 0 {
		bad("outbound.retry_schedule", "must list at least one delay")
	}
	for i, d := range o.RetrySchedule {
		if d <= 0 {
			bad("outbound.retry_schedule", "entry %d (%s) must be positive", i+1, d.D())
		}
	}
	if o.MaxAge <= 0 {
		bad("outbound.max_age", "must be positive (got %s)", o.MaxAge.D())
	}
	if o.WarnAfter < 0 {
		bad("outbound.warn_after", "must not be negative (got %s)", o.WarnAfter.D())
	}

	l := &c.Limits
	positive("limits.max_message_bytes", l.MaxMessageBytes)
	positive("limits.max_recipients", int64(l.MaxRecipients))
	positive("limits.shared_mailbox_members", int64(l.SharedMailboxMembers))
	nonNeg("limits.shared_mailboxes_per_domain", int64(l.SharedMailboxesPerDomain))
	nonNeg("limits.quota_bytes", l.QuotaBytes)
	positive("limits.auth_failures_per_minute", int64(l.AuthFailuresPerMinute))
	positive("limits.max_connections_per_ip", int64(l.MaxConnectionsPerIP))
	positive("limits.max_imap_connections_per_user", int64(l.MaxIMAPConnectionsPerUser))

	nonNeg("retention.recycle_bin_days", int64(c.Retention.RecycleBinDays))

	for i, z := range c.Spam.DNSBL {
		if !validZone(z) {
			bad("spam.dnsbl", "entry %d (%q) is not a DNS zone name like \"zen.spamhaus.org\"", i+1, z)
		}
	}
	if u := c.Spam.RspamdURL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			bad("spam.rspamd_url", "%q is not an http(s) URL like \"http://127.0.0.1:11333\"", u)
		}
	}

	errs = append(errs, c.validateStorage()...)

	oneOf("log.level", c.Log.Level, []string{"debug", "info", "warn", "error"})
	oneOf("log.format", c.Log.Format, []string{"text", "json"})

	return errors.Join(errs...)
}

// validateStorage checks [store] and [blobs]: each backend has what it
// needs to connect, and an S3 endpoint is https unless s3_insecure says
// otherwise (bodies and keys must not cross a network in clear by accident).
func (c *Config) validateStorage() []error {
	var errs []error
	need := func(key, near, msg string) {
		errs = append(errs, &KeyError{Key: key, near: near, Msg: key + ": " + msg})
	}
	switch st := c.Store; st.Backend {
	case "bbolt":
		if st.PostgresURL != "" {
			need("store.postgres_url", "store.backend", `is set but store.backend is "bbolt": set backend = "postgres" or remove it`)
		}
	case "postgres":
		if st.PostgresURL == "" {
			need("store.postgres_url", "store.backend", `must be set when store.backend is "postgres", e.g. "postgres://mailsrv:pw@127.0.0.1:5432/mailsrv"`)
		} else if u, err := url.Parse(st.PostgresURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			need("store.postgres_url", "", fmt.Sprintf("%q is not a postgres:// URL", st.PostgresURL))
		}
	default:
		need("store.backend", "", fmt.Sprintf("%q is not one of bbolt, postgres", st.Backend))
	}
	b := c.Blobs
	switch b.Backend {
	case "files":
	case "s3":
		if b.S3Bucket == "" {
			need("blobs.s3_bucket", "blobs.backend", `must be set when blobs.backend is "s3"`)
		}
		if b.S3Endpoint == "" {
			need("blobs.s3_endpoint", "blobs.backend", `must be set when blobs.backend is "s3", e.g. "https://s3.example.com"`)
		} else if _, secure, err := b.S3EndpointHost(); err != nil {
			need("blobs.s3_endpoint", "", fmt.Sprintf("%q: %v", b.S3Endpoint, err))
		} else if !secure && !b.S3Insecure {
			need("blobs.s3_endpoint", "", fmt.Sprintf("%q is plain http: use https, or set s3_insecure = true for a test or private network", b.S3Endpoint))
		}
		if (b.S3AccessKey == "") != (b.S3SecretKey == "") {
			need("blobs.s3_secret_key", "blobs.s3_access_key", "s3_access_key and s3_secret_key must be set together")
		}
	default:
		need("blobs.backend", "", fmt.Sprintf("%q is not one of files, s3", b.Backend))
	}
	if b.InlineSmallBodies && (b.Backend != "files" || c.Store.Backend != "bbolt") {
		need("blobs.inline_small_bodies", "", `applies only with blobs.backend = "files" and store.backend = "bbolt": remove it or set it to false`)
	}
	return errs
}

// S3EndpointHost splits s3_endpoint into host:port and whether it is
// https. A bare "host:port" means https; "http://" and "https://" URLs
// say so themselves and may carry no path.
func (b Blobs) S3EndpointHost() (host string, secure bool, err error) {
	e := b.S3Endpoint
	if !strings.Contains(e, "://") {
		e = "https://" + e
	}
	u, err := url.Parse(e)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false, errors.New(`want "https://host[:port]" or "host:port"`)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return "", false, errors.New("want only a scheme, host and port (no path, query or credentials)")
	}
	return u.Host, u.Scheme == "https", nil
}

// validZone reports whether z looks like a DNS zone name: dot-separated
// labels of letters, digits, '-' and '_', no empty label.
func validZone(z string) bool {
	z = strings.TrimSuffix(z, ".")
	if z == "" || len(z) > 200 {
		return false
	}
	for _, l := range strings.Split(z, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// checkHostPort accepts "host:port" and, unless needHost, ":port". The port
// must be numeric: service names depend on /etc/services of the machine.
// Port 0 (pick a free port) is allowed for listeners, which tests use.
func checkHostPort(v string, needHost bool) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return errors.New(`want "host:port"`)
	}
	if needHost && host == "" {
		return errors.New(`want "host:port" with a host`)
	}
	if strings.ContainsAny(host, " \t/") {
		return fmt.Errorf("bad host %q", host)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 || (needHost && p == 0) {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// SlogLevel returns the configured level for log/slog. Validate guarantees
// one of the allowed names; anything else maps to Info.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
