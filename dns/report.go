package dns

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Status is the outcome of one check. The spellings are part of the CLI
// contract (SPEC §4): FAIL is upper-case so it stands out.
type Status string

const (
	StatusOK   Status = "ok"
	StatusWarn Status = "warn"
	StatusFail Status = "FAIL"
)

// Check is one line of `mailsrv domain verify`.
type Check struct {
	Name   string `json:"name"` // e.g. "MX", "SPF", "DKIM mail", "PTR 192.0.2.10"
	Status Status `json:"status"`
	// Found is what DNS returned, in presentation form ("" if nothing).
	Found string `json:"found,omitempty"`
	// Expected holds the exact zone-file record(s) to publish, one per line,
	// when the check is not ok.
	Expected string `json:"expected,omitempty"`
	// Message explains the result in one sentence.
	Message string `json:"message"`
}

// Report is the result of verifying one domain.
type Report struct {
	Domain   string  `json:"domain"`
	Hostname string  `json:"hostname"`
	Resolver string  `json:"resolver"`
	Checks   []Check `json:"checks"`
}

// OK is true when no check FAILed; warnings do not count (exit 0).
func (r Report) OK() bool {
	for _, c := range r.Checks {
		if c.Status == StatusFail {
			return false
		}
	}
	return true
}

// Counts returns the number of checks per status.
func (r Report) Counts() (ok, warn, fail int) {
	for _, c := range r.Checks {
		switch c.Status {
		case StatusOK:
			ok++
		case StatusWarn:
			warn++
		default:
			fail++
		}
	}
	return ok, warn, fail
}

// MarshalJSON adds the overall "ok" verdict for --json consumers.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report // no methods: avoids recursion
	return json.Marshal(struct {
		plain
		OK bool `json:"ok"`
	}{plain(r), r.OK()})
}

// FormatReport writes one line per check:
//
//	STATUS  NAME  message; found: VALUE; publish: RECORD
//
// "found" is omitted when nothing was found, "publish" when the check is
// ok. Several records to publish each get their own "publish:" on the same
// line, so the output stays greppable one line per check.
func FormatReport(w io.Writer, r Report) error {
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-4s  %-*s  %s", c.Status, width, c.Name, c.Message)
		if c.Found != "" {
			b.WriteString("; found: " + oneLine(c.Found))
		}
		if c.Status != StatusOK && c.Expected != "" {
			for _, e := range strings.Split(c.Expected, "\n") {
				b.WriteString("; publish: " + e)
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func oneLine(s string) string {
	return strings.ReplaceAll(s, "\n", " | ")
}
