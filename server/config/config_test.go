package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// writeConfig writes body to a config.toml in a temp dir and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadErr loads body and returns the error text, failing if it loaded.
func loadErr(t *testing.T, body string) (path, msg string) {
	t.Helper()
	path = writeConfig(t, body)
	c, err := Load(path)
	if err == nil {
		t.Fatalf("Load succeeded, want error; got %+v", c)
	}
	return path, err.Error()
}

func TestDefaultsValid(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("embedded defaults do not validate: %v", err)
	}
	if c.DataDir != "./mailsrv-data" || c.Listen.SMTP != "127.0.0.1:2525" || c.Listen.HTTPS != "127.0.0.1:2443" || c.TLS.Mode != "self-signed" {
		t.Errorf("unexpected defaults: %+v", c)
	}
	if c.Hostname == "" {
		t.Error("default hostname empty")
	}
}

func TestOverlayKeepsDefaults(t *testing.T) {
	p := writeConfig(t, `
hostname = "mx.test"
[listen]
smtp = ":25"
imap = ""   # disabled
[limits]
max_recipients = 7
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if c.Hostname != "mx.test" || c.Listen.SMTP != ":25" || c.Listen.IMAP != "" || c.Limits.MaxRecipients != 7 {
		t.Errorf("overlay values not applied: %+v", c)
	}
	// Untouched keys, in touched and untouched tables, keep defaults.
	if c.Listen.Submission != d.Listen.Submission || c.Limits.MaxMessageBytes != d.Limits.MaxMessageBytes ||
		c.DataDir != d.DataDir || c.TLS != d.TLS || !reflect.DeepEqual(c.Outbound, d.Outbound) {
		t.Errorf("defaults lost:\n got %+v\nwant %+v", c, d)
	}
}

func TestDurations(t *testing.T) {
	p := writeConfig(t, `
[outbound]
retry_schedule = ["30s", "2m", "1h30m"]
max_age = "72h"
warn_after = "0s"
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{30 * time.Second, 2 * time.Minute, 90 * time.Minute}
	if len(c.Outbound.RetrySchedule) != len(want) {
		t.Fatalf("retry_schedule = %v", c.Outbound.RetrySchedule)
	}
	for i, d := range c.Outbound.RetrySchedule {
		if d.D() != want[i] {
			t.Errorf("retry_schedule[%d] = %v, want %v", i, d.D(), want[i])
		}
	}
	if c.Outbound.MaxAge.D() != 72*time.Hour || c.Outbound.WarnAfter.D() != 0 {
		t.Errorf("max_age %v warn_after %v", c.Outbound.MaxAge.D(), c.Outbound.WarnAfter.D())
	}
	// A shorter file schedule replaces, not merges with, the default.
	p = writeConfig(t, "[outbound]\nretry_schedule = [\"10m\"]\n")
	if c, err = Load(p); err != nil || len(c.Outbound.RetrySchedule) != 1 {
		t.Fatalf("short schedule: %v %v", c, err)
	}
}

func TestUnknownKeyNamesKeyAndLine(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"typo in table", "hostname = \"a\"\n\n[listen]\nsmtp = \":25\"\nsmpt = \":26\"\n",
			[]string{`config.toml:5: unknown key "listen.smpt"`, `did you mean "listen.smtp"`}},
		{"unknown table", "[listn]\nsmtp = \":25\"\n", []string{`config.toml:1: unknown key "listn"`}},
		{"top level", "# c\nhostnam = \"x\"\n", []string{`config.toml:2: unknown key "hostnam"`, `"hostname"`}},
		{"wrong case", "[log]\nLevel = \"info\"\n", []string{`config.toml:2: unknown key "log.Level"`}},
		{"top-level key after table", "[tls]\nmode = \"acme\"\ndata_dir = \"/x\"\n",
			[]string{`config.toml:3: unknown key "tls.data_dir"`}},
		{"dotted key", "listen.smpt = \":1\"\n", []string{`config.toml:1: unknown key "listen.smpt"`}},
		{"after multi-line values", "[outbound]\nretry_schedule = [\n  \"1m\",\n  \"2m\", # x = y\n]\nrelay_password = \"\"\"\nfoo = bar\n\"\"\"\nbogus = 1\n",
			[]string{`config.toml:9: unknown key "outbound.bogus"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, msg := loadErr(t, tt.body)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestAllUnknownKeysReported(t *testing.T) {
	_, msg := loadErr(t, "a = 1\nb = 2\n")
	if !strings.Contains(msg, `:1: unknown key "a"`) || !strings.Contains(msg, `:2: unknown key "b"`) {
		t.Errorf("want both keys reported, got %q", msg)
	}
}

func TestBadValuesNameKeyAndLine(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"wrong type", "\n[listen]\nsmtp = 25\n", `config.toml:3: listen.smtp: incompatible types`},
		{"table as scalar", "listen = 5\n", `config.toml:1: listen:`},
		{"bad duration", "[outbound]\n\nmax_age = \"5 days\"\n", `config.toml:3: outbound.max_age: "5 days" is not a duration`},
		{"bad duration in list", "[outbound]\nretry_schedule = [\"1m\", \"soon\"]\n", `config.toml:2: outbound.retry_schedule: "soon" is not a duration`},
		{"negative duration", "[outbound]\nmax_age = \"-1h\"\n", `config.toml:2: outbound.max_age: must be positive`},
		{"tls mode", "[tls]\nmode = \"letsencrypt\"\n", `config.toml:2: tls.mode: "letsencrypt" is not one of acme, files, self-signed`},
		{"files without cert", "[tls]\nmode = \"files\"\nkey_file = \"/k\"\n", `config.toml:2: tls.cert_file: must be set when tls.mode is "files"`},
		{"files without key", "[tls]\nmode = \"files\"\ncert_file = \"/c\"\n", `config.toml:2: tls.key_file: must be set`},
		{"negative limit", "[limits]\nmax_recipients = 5\nshared_mailboxes_per_domain = -1\n", `config.toml:3: limits.shared_mailboxes_per_domain: must not be negative`},
		{"zero limit", "[limits]\nmax_message_bytes = 0\n", `config.toml:2: limits.max_message_bytes: must be at least 1`},
		{"listen no port", "[listen]\nimap = \"localhost\"\n", `config.toml:2: listen.imap: "localhost": want "host:port"`},
		{"listen bad port", "[listen]\nimap = \":imap\"\n", `config.toml:2: listen.imap: ":imap": bad port`},
		{"listen port range", "[listen]\nimap = \":70000\"\n", `listen.imap: ":70000": bad port`},
		{"resolver needs host", "[dns]\nresolver = \":53\"\n", `config.toml:2: dns.resolver`},
		{"log level", "[log]\nlevel = \"verbose\"\n", `config.toml:2: log.level: "verbose" is not one of debug, info, warn, error`},
		{"log format", "[log]\nformat = \"xml\"\n", `config.toml:2: log.format: "xml" is not one of text, json`},
		{"mta-sts", "[tls]\nmta_sts_mode = \"on\"\n", `config.toml:2: tls.mta_sts_mode: "on" is not one of testing, enforce, none`},
		{"inline table", "listen = { smtp = \"nope\" }\n", `config.toml:1: listen.smtp: "nope"`},
		{"outbound port", "[outbound]\nport = 0\n", `config.toml:2: outbound.port: 0 is not a port`},
		{"empty schedule", "[outbound]\nretry_schedule = []\n", `config.toml:2: outbound.retry_schedule: must list at least one delay`},
		{"store backend", "[store]\nbackend = \"sqlite\"\n", `config.toml:2: store.backend: "sqlite" is not one of bbolt, postgres`},
		{"postgres without url", "[store]\nbackend = \"postgres\"\n", `config.toml:2: store.postgres_url: must be set when store.backend is "postgres"`},
		{"postgres bad url", "[store]\nbackend = \"postgres\"\npostgres_url = \"mysql://x\"\n", `config.toml:3: store.postgres_url: "mysql://x" is not a postgres:// URL`},
		{"url without postgres", "[store]\npostgres_url = \"postgres://x/y\"\n", `config.toml:2: store.postgres_url: is set but store.backend is "bbolt"`},
		{"blobs backend", "[blobs]\nbackend = \"nfs\"\n", `config.toml:2: blobs.backend: "nfs" is not one of files, s3`},
		{"s3 without bucket", "[blobs]\nbackend = \"s3\"\ns3_endpoint = \"https://s3.test\"\n", `config.toml:2: blobs.s3_bucket: must be set when blobs.backend is "s3"`},
		{"s3 without endpoint", "[blobs]\nbackend = \"s3\"\ns3_bucket = \"b\"\n", `config.toml:2: blobs.s3_endpoint: must be set when blobs.backend is "s3"`},
		{"inline with s3", "[blobs]\nbackend = \"s3\"\ns3_bucket = \"b\"\ns3_endpoint = \"https://s3.example.com\"\ninline_small_bodies = true\n", `config.toml:5: blobs.inline_small_bodies: applies only with blobs.backend = "files" and store.backend = "bbolt": remove it or set it to false`},
		{"s3 http", "[blobs]\nbackend = \"s3\"\ns3_bucket = \"b\"\ns3_endpoint = \"http://127.0.0.1:9000\"\n", `config.toml:4: blobs.s3_endpoint: "http://127.0.0.1:9000" is plain http: use https, or set s3_insecure = true`},
		{"s3 path", "[blobs]\nbackend = \"s3\"\ns3_bucket = \"b\"\ns3_endpoint = \"https://h/b\"\n", `blobs.s3_endpoint: "https://h/b": want only a scheme, host and port`},
		{"s3 half credentials", "[blobs]\nbackend = \"s3\"\ns3_bucket = \"b\"\ns3_endpoint = \"h:9000\"\ns3_access_key = \"k\"\n", `config.toml:5: blobs.s3_secret_key: s3_access_key and s3_secret_key must be set together`},
		{"syntax", "hostname = \"a\"\nsmtp = = 1\n", `config.toml:2: syntax error`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, msg := loadErr(t, tt.body)
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error\n  %q\ndoes not contain\n  %q", msg, tt.want)
			}
		})
	}
}

func TestValidateReturnsKeyErrors(t *testing.T) {
	c := Default()
	c.Log.Level = "loud"
	c.Limits.MaxRecipients = -3
	err := c.Validate()
	var ke *KeyError
	if !errors.As(err, &ke) {
		t.Fatalf("want *KeyError, got %T %v", err, err)
	}
	if !strings.Contains(err.Error(), "log.level") || !strings.Contains(err.Error(), "limits.max_recipients") {
		t.Errorf("want both problems reported: %v", err)
	}
}

func TestMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.toml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("want not-exist error, got %v", err)
	}
}

const examplePath = "../../config.example.toml"

// A postgres store with an S3 bucket over http is valid once s3_insecure
// says so, and files stay valid with postgres (one server).
func TestStorageBackendsValid(t *testing.T) {
	for _, body := range []string{
		"[store]\nbackend = \"postgres\"\npostgres_url = \"postgres://m:pw@127.0.0.1:5432/m\"\n[blobs]\nbackend = \"s3\"\ns3_endpoint = \"http://127.0.0.1:7070\"\ns3_bucket = \"mail\"\ns3_insecure = true\ns3_access_key = \"a\"\ns3_secret_key = \"s\"\n",
		"[store]\nbackend = \"postgres\"\npostgres_url = \"postgresql:///m?host=/run/postgresql\"\n",
		"[blobs]\nbackend = \"s3\"\ns3_endpoint = \"s3.example.com\"\ns3_bucket = \"mail\"\n",
	} {
		c, err := Load(writeConfig(t, body))
		if err != nil {
			t.Errorf("%q: %v", body, err)
			continue
		}
		if c.Blobs.Backend == "s3" {
			host, secure, err := c.Blobs.S3EndpointHost()
			if err != nil || host == "" || secure == c.Blobs.S3Insecure {
				t.Errorf("%q: endpoint %q secure=%v %v", body, host, secure, err)
			}
		}
	}
}

func TestExampleLoads(t *testing.T) {
	c, err := Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ got, want any }{
		{c.DataDir, "/var/lib/mailsrv"},
		{c.Hostname, "mail.example.com"},
		{c.Listen.SMTP, ":25"},
		{c.Listen.Submission, ":587"},
		{c.Listen.Submissions, ":465"},
		{c.Listen.IMAP, ":143"},
		{c.Listen.IMAPS, ":993"},
		{c.Listen.HTTP, ":80"},
		{c.Listen.HTTPS, ":443"},
		{c.Listen.Metrics, "127.0.0.1:9464"},
		{c.TLS.Mode, "acme"},
		{c.Outbound.Port, 25},
		{c.Limits.MaxMessageBytes, int64(52428800)},
		{c.Limits.AuthFailuresPerMinute, 10},
		{c.Retention.RecycleBinDays, 30},
		{c.Outbound.MaxAge.D(), 120 * time.Hour},
		{c.Store.Backend, "bbolt"},
		{c.Blobs.Backend, "files"},
	}
	for i, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("check %d: got %v, want %v", i, ck.got, ck.want)
		}
	}
}

// TestExampleCoversEveryKey keeps config.example.toml from drifting: every
// leaf of Config must be set (and so documented) in the example.
func TestExampleCoversEveryKey(t *testing.T) {
	var raw map[string]any
	md, err := toml.DecodeFile(examplePath, &raw)
	if err != nil {
		t.Fatal(err)
	}
	leaves := schemaKeys(reflect.TypeOf(Config{}), nil, false)
	if len(leaves) < 30 {
		t.Fatalf("schema walk found only %d keys: %v", len(leaves), leaves)
	}
	for _, k := range leaves {
		if !md.IsDefined(k...) {
			t.Errorf("config.example.toml lacks %q", strings.Join(k, "."))
		}
	}
	// And each key line carries a comment on it or just above it.
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	kl := indexKeyLines(data)
	for _, k := range leaves {
		n := kl.find(k)
		if n == 0 {
			t.Errorf("no line found for %q", strings.Join(k, "."))
			continue
		}
		commented := strings.Contains(lines[n-1], "#")
		for j := n - 2; j >= 0 && !commented; j-- {
			s := strings.TrimSpace(lines[j])
			if strings.HasPrefix(s, "#") {
				commented = true
			} else if !strings.Contains(s, "=") || s == "" {
				break
			}
		}
		if !commented {
			t.Errorf("%q (line %d) has no comment", strings.Join(k, "."), n)
		}
	}
}

func TestSlogLevel(t *testing.T) {
	for lvl, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"} {
		if got := (Log{Level: lvl}).SlogLevel().String(); got != want {
			t.Errorf("%s: got %s", lvl, got)
		}
	}
}
