package mailsort

import "testing"

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
		if got != tc.want || reply != tc.reply {
			t.Errorf("BaseSubject(%q) = %q, %v; want %q, %v", tc.in, got, reply, tc.want, tc.reply)
		}
	}
}
