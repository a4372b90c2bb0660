package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestE2EIndex keeps E2E.md honest: every scenario it lists names a test
// function that exists in the file it names.
func TestE2EIndex(t *testing.T) {
	raw, err := os.ReadFile("E2E.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| (\\d\\d) \\|[^|]+\\| `(Test\\w+)` \\| (\\S+) \\|$")
	n := 0
	for _, line := range strings.Split(string(raw), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n++
		src, err := os.ReadFile(m[3])
		if err != nil {
			t.Errorf("scenario %s: %v", m[1], err)
			continue
		}
		if !strings.Contains(string(src), "func "+m[2]+"(t *testing.T)") {
			t.Errorf("scenario %s: %s has no func %s", m[1], m[3], m[2])
		}
	}
	if n < 20 {
		t.Errorf("E2E.md lists %d scenarios; the table could not be read", n)
	}
}
