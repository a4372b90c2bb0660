// Package config owns mailsrv's configuration: the TOML schema of SPEC §3,
// the embedded defaults used when no file is given, and validation.
//
// A config file is an overlay on the embedded defaults: every key is
// optional, and a key the file does not set keeps its embedded value. The
// embedded defaults are deliberately safe for a laptop (loopback high ports,
// self-signed TLS, ./mailsrv-data); config.example.toml shows the production
// values. Unknown keys and bad values are errors that name the key and line,
// because a silently ignored typo in a mail server's config is a security
// or deliverability bug that surfaces weeks later.
package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration. Field tags are the TOML key names.
type Config struct {
	Hostname  string    `toml:"hostname"`
	DataDir   string    `toml:"data_dir"`
	Listen    Listen    `toml:"listen"`
	TLS       TLS       `toml:"tls"`
	DNS       DNS       `toml:"dns"`
	Outbound  Outbound  `toml:"outbound"`
	Limits    Limits    `toml:"limits"`
	Retention Retention `toml:"retention"`
	Log       Log       `toml:"log"`
	Spam      Spam      `toml:"spam"`
	// Submission is the [submission] table (not the listener address of
	// the same name under [listen]).
	Submission Submission `toml:"submission"`
	Web        Web        `toml:"web"`
	Store      Store      `toml:"store"`
	Blobs      Blobs      `toml:"blobs"`
}

// Store selects the metadata engine (SPEC §9).
type Store struct {
	// Backend is "bbolt" (embedded, one process owns data_dir) or
	// "postgres" (several servers may share one database).
	Backend string `toml:"backend"`
	// PostgresURL is the database of the postgres backend, e.g.
	// "postgres://mailsrv:pw@127.0.0.1:5432/mailsrv".
	PostgresURL string `toml:"postgres_url"`
}

// Blobs selects where message bodies live.
type Blobs struct {
	// Backend is "files" (under data_dir) or "s3" (an S3-compatible bucket,
	// shared by every server of a postgres store).
	Backend     string `toml:"backend"`
	S3Endpoint  string `toml:"s3_endpoint"` // URL or host:port; https unless s3_insecure
	S3Bucket    string `toml:"s3_bucket"`
	S3Region    string `toml:"s3_region"`
	S3AccessKey string `toml:"s3_access_key"`
	S3SecretKey string `toml:"s3_secret_key"`
	// S3Insecure allows an http:// endpoint (tests, private networks).
	S3Insecure bool `toml:"s3_insecure"`
	// InlineSmallBodies keeps bodies of up to 64 KiB inside the
	// delivery's database commit instead of a file each (backend "files"
	// with store bbolt only): one synchronous disk flush less per
	// message. Off by default: every body is a file under data_dir/blobs.
	InlineSmallBodies bool `toml:"inline_small_bodies"`
}

// Submission configures what submission does with a message beyond
// delivering it.
type Submission struct {
	// SaveSent also stores each personal submission in the sender's Sent
	// folder (SPEC §3); mail sent as a shared address always goes to the
	// shared mailbox's Sent. Off by default: most clients APPEND their own
	// copy, and an APPEND of the same message is recognised and not doubled.
	SaveSent bool `toml:"save_sent"`
}

// Listen holds listener addresses; "" disables a listener.
type Listen struct {
	SMTP        string `toml:"smtp"`
	Submission  string `toml:"submission"`
	Submissions string `toml:"submissions"`
	IMAP        string `toml:"imap"`
	IMAPS       string `toml:"imaps"`
	HTTP        string `toml:"http"`
	HTTPS       string `toml:"https"`
	Metrics     string `toml:"metrics"`
}

// TLS selects where certificates come from.
type TLS struct {
	Mode             string `toml:"mode"` // "acme" | "files" | "self-signed"
	CertFile         string `toml:"cert_file"`
	KeyFile          string `toml:"key_file"`
	ACMEEmail        string `toml:"acme_email"`
	ACMEDirectoryURL string `toml:"acme_directory_url"`
	// MTASTSMode is the mode published in the MTA-STS policy:
	// "testing" (default), "enforce" or "none".
	MTASTSMode string `toml:"mta_sts_mode"`
}

// DNS configures the resolver used for SPF/DKIM/DMARC, MX lookups and
// `domain verify`. Empty means the system resolver.
type DNS struct {
	Resolver string `toml:"resolver"`
}

// Outbound configures remote delivery.
type Outbound struct {
	Relay         string `toml:"relay"` // smarthost host:port; "" = direct MX delivery
	RelayUsername string `toml:"relay_username"`
	RelayPassword string `toml:"relay_password"`
	Port          int    `toml:"port"` // remote MX port, 25 in production
	MaxAttempts   int    `toml:"max_attempts"`
	// RetrySchedule is the delay before each retry; the last entry repeats
	// until MaxAge. TOML strings like "1m", "4h".
	RetrySchedule []Duration `toml:"retry_schedule"`
	// MaxAge is how long a message may stay queued before it bounces.
	MaxAge Duration `toml:"max_age"`
	// WarnAfter is when a delay warning DSN goes to the sender (0 = never).
	WarnAfter Duration `toml:"warn_after"`
}

// Limits bounds what clients may ask of the server.
type Limits struct {
	MaxMessageBytes          int64 `toml:"max_message_bytes"`
	MaxRecipients            int   `toml:"max_recipients"`
	SharedMailboxMembers     int   `toml:"shared_mailbox_members"`
	SharedMailboxesPerDomain int   `toml:"shared_mailboxes_per_domain"` // 0 = unlimited
	AuthFailuresPerMinute    int   `toml:"auth_failures_per_minute"`
	// MaxConnectionsPerIP caps concurrent connections from one IP, per
	// protocol listener (SMTP and IMAP count separately).
	MaxConnectionsPerIP int `toml:"max_connections_per_ip"`
	// MaxIMAPConnectionsPerUser caps concurrent IMAP sessions of one login.
	MaxIMAPConnectionsPerUser int `toml:"max_imap_connections_per_user"`
	// MaxConnections caps concurrent connections per protocol listener
	// role (MX, submission, IMAP) from everyone together; over it a
	// client gets SMTP 421 4.7.0 or IMAP BYE. 0 = unlimited.
	MaxConnections int `toml:"max_connections"`
	// QuotaBytes is the storage quota of every account and shared mailbox
	// without its own (`mailsrv quota set`); 0 = unlimited.
	QuotaBytes int64 `toml:"quota_bytes"`
}

// Retention configures how long deleted things are kept.
type Retention struct {
	RecycleBinDays int `toml:"recycle_bin_days"`
}

// Spam configures inbound filtering at MX intake (server/spam).
type Spam struct {
	// DNSBL lists DNS blocklist zones the connecting IP is checked
	// against; a listed client gets 554 5.7.1. Empty = none.
	DNSBL []string `toml:"dnsbl"`
	// JunkFilter enables the per-mailbox classifier, trained by moving
	// mail into and out of Junk.
	JunkFilter bool `toml:"junk_filter"`
	// RspamdURL is the base URL of a running rspamd's controller-less
	// normal worker (e.g. "http://127.0.0.1:11333"); "" = not used.
	RspamdURL string `toml:"rspamd_url"`
}

// Web configures the browser surface (SPEC §8).
type Web struct {
	// Enabled serves the login page, the admin console and its API on the
	// https listener (and the loopback http listener).
	Enabled bool `toml:"enabled"`
}

// Log configures log/slog output.
type Log struct {
	Level  string `toml:"level"`  // debug | info | warn | error
	Format string `toml:"format"` // text | json
}

// Duration is a time.Duration written in TOML as a Go duration string ("90s", "4h").
type Duration time.Duration

// UnmarshalText parses a duration like ParseDuration ("90s", "4h", "30d").
// A negative value is left to Validate, which names the key's rule.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (write it like \"90s\", \"15m\", \"4h\" or \"30d\")", b)
	}
	*d = Duration(v)
	return nil
}

// ParseDuration reads a Go duration ("36h", "90m") or a number of days
// with a "d" suffix ("30d", "1.5d"), the one form of every duration in the
// config file and on the command line. Negative durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	d, err := parseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("invalid duration %q: write it like 90s, 15m, 4h or 30d", strings.TrimSpace(s))
	case d < 0:
		return 0, fmt.Errorf("invalid duration %q: must not be negative", strings.TrimSpace(s))
	}
	return d, nil
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n != n || n > 1e5 || n < -1e5 {
			return 0, fmt.Errorf("bad number of days %q", days)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	return time.ParseDuration(s)
}

// MarshalText formats the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Default returns the embedded defaults of SPEC §3: loopback high ports,
// self-signed TLS and ./mailsrv-data, so `go run . serve` works on a laptop.
func Default() *Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return &Config{
		Hostname: host,
		DataDir:  "./mailsrv-data",
		Listen: Listen{
			SMTP:        "127.0.0.1:2525",
			Submission:  "127.0.0.1:2587",
			Submissions: "127.0.0.1:2465",
			IMAP:        "127.0.0.1:2143",
			IMAPS:       "127.0.0.1:2993",
			HTTP:        "127.0.0.1:2080",
			HTTPS:       "127.0.0.1:2443",
			Metrics:     "127.0.0.1:2090",
		},
		TLS: TLS{Mode: "self-signed", MTASTSMode: "testing"},
		Outbound: Outbound{
			Port:        25,
			MaxAttempts: 0, // 0 = bounded by MaxAge only
			RetrySchedule: []Duration{
				Duration(time.Minute), Duration(5 * time.Minute), Duration(15 * time.Minute),
				Duration(time.Hour), Duration(2 * time.Hour), Duration(4 * time.Hour),
			},
			MaxAge:    Duration(5 * 24 * time.Hour),
			WarnAfter: Duration(4 * time.Hour),
		},
		Limits: Limits{
			MaxMessageBytes:           52428800,
			MaxRecipients:             100,
			SharedMailboxMembers:      200,
			SharedMailboxesPerDomain:  0,
			AuthFailuresPerMinute:     10,
			MaxConnectionsPerIP:       20,
			MaxIMAPConnectionsPerUser: 50,
			MaxConnections:            2000,
		},
		Retention: Retention{RecycleBinDays: 30},
		Log:       Log{Level: "info", Format: "text"},
		Spam:      Spam{DNSBL: []string{}, JunkFilter: true},
		Web:       Web{Enabled: true},
		Store:     Store{Backend: "bbolt"},
		Blobs:     Blobs{Backend: "files"},
	}
}
