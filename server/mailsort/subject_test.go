package mailsort

import (
	"strings"
	"testing"
)

// RFC 5256 §2.1 base subjects, including the tricky corners: nested
// leaders and blobs, a blob that is the whole subject, (fwd) trailers,
// [fwd: ...] wrappers and words that merely start with "re"/"fw".
func TestBaseSubject(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		reply    bool
	}{
		{"Hello", "hello", false},
		{"Re: Hello", "hello", true},
		{"RE: re: Fwd: Hello", "hello", true},
		{"Re[2]: Hello", "hello", true},
		{"Re [2]: Hello", "hello", true},
		{"[list] Re: Hello", "hello", true},
		{"[list] Hello", "hello", false},
		{"[list]", "[list]", false},
		{"[a][b] [c]", "[c]", false},
		{"Hello (fwd)", "hello", true},
		{"Hello (FWD) (fwd)  ", "hello", true},
		{"[Fwd: Re: Hello]", "hello", true},
		{"[fwd: [list] Hello (fwd)]", "hello", true},
		{"Fw: Hello", "hello", true},
		{"FWD:Hello", "hello", true},
		{"Rebuild the index", "rebuild the index", false},
		{"Fwiw: nothing", "fwiw: nothing", false},
		{"  Hello\t  world ", "hello world", false},
		{"Re:", "", true},
		{"", "", false},
		{"Re: [PATCH] Re: x", "x", true},
		{"Résumé", "résumé", false},
		{"RE: ÉTÉ", "été", true},
	} {
		got, reply := BaseSubject(tc.in)
		// The result is folded to upper case (fold); the table keeps
		// the base subjects readable.
		if got != strings.ToUpper(tc.want) || reply != tc.reply {
			t.Errorf("BaseSubject(%q) = %q, %v; want %q, %v", tc.in, got, reply, tc.want, tc.reply)
		}
	}
}

// Base subjects compare in upper case (i;ascii-casemap, RFC 4790;
// i;unicode-casemap, RFC 5051, titlecase): letters sort before "[" and
// "_" (imaptest sort-subject: "[xyz]" and "_" after "c").
func TestFoldSortsLettersBeforePunctuation(t *testing.T) {
	order := []string{"", "a", "Ad: x", "b", "C", "[xyz]", "_"}
	for i := 1; i < len(order); i++ {
		a, _ := BaseSubject(order[i-1])
		b, _ := BaseSubject(order[i])
		if a >= b {
			t.Errorf("base subject of %q (%q) does not sort before %q (%q)", order[i-1], a, order[i], b)
		}
	}
	if Fold("é") != Fold("É") || Fold("ß") == "" {
		t.Errorf("fold: é %q É %q", Fold("é"), Fold("É"))
	}
}
