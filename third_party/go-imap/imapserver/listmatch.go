// mailsrv patch: whole file. LIST pattern matching in bounded time.
//
// Upstream's matchList backtracks over every wildcard, so a pattern such as
// "********x" costs time exponential in the number of wildcards (8 stars
// took 1.7 s, 500 kept two cores busy for minutes). This matcher simulates
// the pattern as a non-deterministic automaton over a bit set: one pass
// over the name, len(pattern)/64 word operations per name byte, whatever
// the wildcards. Patterns longer than MaxListPatternLen are refused when
// the command is parsed (see checkListPatterns) and never match here.
package imapserver

import (
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// MaxListPatternLen is the longest LIST/LSUB reference or pattern accepted,
// in bytes. Mailbox names are shorter than this, so a longer pattern made
// of literal characters could never match anyway.
const MaxListPatternLen = 1024

// checkListPatterns refuses a reference or pattern over MaxListPatternLen.
func checkListPatterns(ref string, patterns []string) error {
	for _, p := range append([]string{ref}, patterns...) {
		if len(p) > MaxListPatternLen {
			return &imap.Error{
				Type: imap.StatusResponseTypeBad,
				Code: imap.ResponseCodeClientBug,
				Text: fmt.Sprintf("LIST reference or pattern too long (at most %d bytes)", MaxListPatternLen),
			}
		}
	}
	return nil
}

// listPattern is a compiled LIST pattern: positions 0..n of the token list
// are automaton states; state j means "the first j tokens matched".
type listPattern struct {
	n     int           // number of tokens
	words int           // bit set size in uint64 words (n+1 bits)
	lit   [256][]uint64 // lit[c] has bit j set if token j is the byte c
	star  []uint64      // bit j set if token j is '*'
	pct   []uint64      // bit j set if token j is '%'
	delim byte
	hasD  bool
}

// compileListPattern compiles pattern. Runs of wildcards collapse into one
// ('*' if the run has one, else '%'), so no two wildcards are adjacent.
func compileListPattern(pattern, delim string) *listPattern {
	var toks, kinds []byte // kinds[j] says what toks[j] is
	const kLit, kStar, kPct = 0, 1, 2
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		k := byte(kLit)
		if c == '*' {
			k = kStar
		} else if c == '%' {
			k = kPct
		}
		if k != kLit && len(kinds) > 0 && kinds[len(kinds)-1] != kLit {
			if k == kStar {
				kinds[len(kinds)-1] = kStar
			}
			continue
		}
		toks = append(toks, c)
		kinds = append(kinds, k)
	}
	p := &listPattern{n: len(toks), words: (len(toks))/64 + 1}
	if len(delim) == 1 {
		p.delim, p.hasD = delim[0], true
	}
	p.star = make([]uint64, p.words)
	p.pct = make([]uint64, p.words)
	for j, c := range toks {
		w, b := j/64, uint(j%64)
		switch kinds[j] {
		case kStar:
			p.star[w] |= 1 << b
		case kPct:
			p.pct[w] |= 1 << b
		default:
			if p.lit[c] == nil {
				p.lit[c] = make([]uint64, p.words)
			}
			p.lit[c][w] |= 1 << b
		}
	}
	return p
}

// closure adds state j+1 for every active state j that is a wildcard
// (a wildcard may match nothing). One step suffices: wildcards are never
// adjacent after compilation.
func (p *listPattern) closure(d []uint64) {
	var carry uint64
	for w := range d {
		wild := d[w] & (p.star[w] | p.pct[w])
		next := wild >> 63
		d[w] |= wild<<1 | carry
		carry = next
	}
}

// match reports whether the whole of name matches the pattern.
func (p *listPattern) match(name string) bool {
	d := make([]uint64, p.words)
	nd := make([]uint64, p.words)
	d[0] = 1
	p.closure(d)
	for i := 0; i < len(name); i++ {
		c := name[i]
		lit := p.lit[c]
		isDelim := p.hasD && c == p.delim
		var carry uint64
		any := false
		for w := range d {
			var adv uint64
			if lit != nil {
				adv = d[w] & lit[w]
			}
			v := adv<<1 | carry
			carry = adv >> 63
			v |= d[w] & p.star[w]
			if !isDelim {
				v |= d[w] & p.pct[w]
			}
			nd[w] = v
			any = any || v != 0
		}
		if !any {
			return false
		}
		p.closure(nd)
		d, nd = nd, d
	}
	return d[p.n/64]&(1<<uint(p.n%64)) != 0
}

func matchList(name, delim, pattern string) bool {
	if len(pattern) > MaxListPatternLen {
		return false
	}
	if !strings.ContainsAny(pattern, "*%") {
		return name == pattern
	}
	return compileListPattern(pattern, delim).match(name)
}
