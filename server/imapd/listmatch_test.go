package imapd

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapserver"
)

// Issue 12 #2: LIST "" "********x" took 1.7 s with 8 stars (×5 per extra
// star) and a 500-star pattern kept both cores busy for minutes. Every
// such pattern must now answer quickly, and one over the length cap gets
// a BAD that says why.
func TestListPatternBoundedTime(t *testing.T) {
	e := newEnv(t)
	c := rawLogin(t, e.addr, "alice@example.com")
	for _, n := range []string{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "a/b/c/d/e/f/g/h/i/j/k/l/m/n", "Shared-ish/aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		if _, tagged := c.Cmd(`CREATE "` + n + `"`); !strings.HasPrefix(tagged, " OK") {
			t.Fatalf("CREATE %s: %s", n, tagged)
		}
	}
	var patterns []string
	for stars := 8; stars <= 20; stars++ {
		patterns = append(patterns, strings.Repeat("*", stars)+"x",
			strings.Repeat("*a", stars)+"x", strings.Repeat("%a", stars)+"x", strings.Repeat("*%", stars)+"x")
	}
	patterns = append(patterns, strings.Repeat("*", 500)+"x", strings.Repeat("a*", 500)+"x")
	start := time.Now()
	for _, p := range patterns {
		t0 := time.Now()
		if _, tagged := c.Cmd(`LIST "" "` + p + `"`); !strings.HasPrefix(tagged, " OK") {
			t.Fatalf("LIST %q: %s", p, tagged)
		}
		if d := time.Since(t0); d > 500*time.Millisecond {
			t.Errorf("LIST with a %d-byte pattern took %v", len(p), d)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("%d hostile LIST patterns took %v", len(patterns), d)
	}
	// A match still works through all those wildcards.
	untagged, tagged := c.Cmd(`LIST "" "` + strings.Repeat("*", 300) + `a%a` + strings.Repeat("%", 300) + `"`)
	if !strings.HasPrefix(tagged, " OK") || !containsLine(untagged, `"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"`) {
		t.Fatalf("wildcard LIST lost a match: %q %s", untagged, tagged)
	}

	long := strings.Repeat("*", imapserver.MaxListPatternLen+1)
	if _, tagged := c.Cmd(`LIST "" "` + long + `"`); !strings.HasPrefix(tagged, " BAD") || !strings.Contains(tagged, "too long") {
		t.Fatalf("LIST with an over-long pattern: %s", tagged)
	}
	if _, tagged := c.Cmd(`LSUB "" "` + long + `"`); !strings.HasPrefix(tagged, " BAD") || !strings.Contains(tagged, "too long") {
		t.Fatalf("LSUB with an over-long pattern: %s", tagged)
	}
	if _, tagged := c.Cmd(`LIST "` + long + `" "*"`); !strings.HasPrefix(tagged, " BAD") {
		t.Fatalf("LIST with an over-long reference: %s", tagged)
	}
	// The session goes on.
	if _, tagged := c.Cmd(`NOOP`); !strings.HasPrefix(tagged, " OK") {
		t.Fatalf("NOOP after BAD: %s", tagged)
	}
}

func containsLine(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// refMatch is an obviously correct (memoised, O(len(name)·len(pattern)))
// LIST matcher: '*' matches anything, '%' anything but the delimiter.
func refMatch(name, pattern string, delim byte) bool {
	memo := map[[2]int]bool{}
	var m func(i, j int) bool
	m = func(i, j int) bool {
		k := [2]int{i, j}
		if v, ok := memo[k]; ok {
			return v
		}
		var r bool
		switch {
		case j == len(pattern):
			r = i == len(name)
		case pattern[j] == '*':
			r = m(i, j+1) || (i < len(name) && m(i+1, j))
		case pattern[j] == '%':
			r = m(i, j+1) || (i < len(name) && name[i] != delim && m(i+1, j))
		default:
			r = i < len(name) && name[i] == pattern[j] && m(i+1, j+1)
		}
		memo[k] = r
		return r
	}
	return m(0, 0)
}

// FuzzListMatch checks the bounded-time matcher against refMatch, and
// that no name/pattern pair takes long.
func FuzzListMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"INBOX", "*"}, {"a/b/c", "%/%"}, {"x/y/z", "*/%"}, {"Misato/Misato", "Mis*to/Mis%to"},
		{"aaaaaaaaaaaaaaaaaaaax", strings.Repeat("*", 20) + "x"}, {"a/b", "a%b"}, {"", "%"},
		{strings.Repeat("a", 100), strings.Repeat("*a", 70) + "*"}, {"ab", "a**%%b"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, pattern string) {
		if len(pattern) > imapserver.MaxListPatternLen || len(name) > 1024 || strings.HasPrefix(pattern, "/") {
			return
		}
		start := time.Now()
		got := imapserver.MatchList(name, '/', "", pattern)
		if d := time.Since(start); d > time.Second { // generous: a loaded CI machine stalls; backtracking took minutes
			t.Fatalf("MatchList(%q, %q) took %v", name, pattern, d)
		}
		if want := refMatch(name, pattern, '/'); got != want {
			t.Fatalf("MatchList(%q, %q) = %v, want %v", name, pattern, got, want)
		}
	})
}
