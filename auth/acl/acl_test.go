package acl

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := []struct {
		in   string
		want Rights
	}{
		{"read", Read},
		{"read,manage", Read | Manage},
		{" Manage , READ ", Read | Manage},
		{"send-on-behalf", SendOnBehalf},
		{"send,send-on-behalf", Send | SendOnBehalf},
		{"read,manage,send,send-on-behalf", All},
		{"read,read", Read},
	}
	for _, tt := range good {
		got, err := Parse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	bad := []struct{ in, mention string }{
		{"", "empty"},
		{"   ", "empty"},
		{"read,", "empty right"},
		{"read,,manage", "empty right"},
		{"read,write", `"write"`},
		{"sendonbehalf", `"sendonbehalf"`},
		{"all", `"all"`},
	}
	for _, tt := range bad {
		_, err := Parse(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("Parse(%q) error = %v, want one mentioning %s", tt.in, err, tt.mention)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	if s := All.String(); s != "read,manage,send,send-on-behalf" {
		t.Errorf("All.String() = %q", s)
	}
	if s := (SendOnBehalf | Read).String(); s != "read,send-on-behalf" {
		t.Errorf("canonical order: %q", s)
	}
	if s := Rights(0).String(); s != "" {
		t.Errorf("zero rights: %q", s)
	}
	for r := Rights(1); r <= All; r++ {
		got, err := Parse(r.String())
		if err != nil || got != r {
			t.Errorf("round trip of %08b: %q -> %v, %v", r, r.String(), got, err)
		}
	}
	if s := Rights(0xF0 | Read).String(); s != "read" {
		t.Errorf("unknown bits should be ignored: %q", s)
	}
}

func TestEffective(t *testing.T) {
	tests := []struct{ in, want Rights }{
		{0, 0},
		{Read, Read},
		{Manage, Read | Manage},
		{Manage | Send, Read | Manage | Send},
		{Send, Send},
		{0xFF, All},
	}
	for _, tt := range tests {
		if got := Effective(tt.in); got != tt.want {
			t.Errorf("Effective(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if !Manage.Has(Read) || Read.Has(Manage) || !All.Has(Read|Send) {
		t.Error("Has does not follow Effective")
	}
}

func TestIMAPLetters(t *testing.T) {
	tests := []struct {
		r    Rights
		want string
	}{
		{0, ""},
		{Read, "lrs"},
		{Manage, "lrswiktecx"},
		{Read | Manage, "lrswiktecx"},
		{Send | SendOnBehalf, ""},
		{Read | Send, "lrs"},
		{All, "lrswiktecx"},
	}
	for _, tt := range tests {
		if got := IMAPLetters(tt.r); got != tt.want {
			t.Errorf("IMAPLetters(%v) = %q, want %q", tt.r, got, tt.want)
		}
	}
	// The manage letters are exactly the SPEC §5 table's set, and include
	// read's.
	for _, c := range "lrswitexkc" {
		if !strings.ContainsRune(IMAPLetters(Manage), c) {
			t.Errorf("manage lacks %q", c)
		}
	}
	if len(IMAPLetters(Manage)) != 10 || strings.ContainsRune(IMAPLetters(All), 'a') {
		t.Errorf("manage letters %q: want exactly the table's ten, never 'a'", IMAPLetters(Manage))
	}
}

// TestAllows checks every right (alone, in the combinations the seeds use,
// and none) against every operation.
func TestAllows(t *testing.T) {
	allOps := []Op{OpList, OpRead, OpSetSeen, OpWrite, OpExpunge, OpAppend, OpCreateFolder,
		OpDeleteFolder, OpRenameFolder, OpMoveOut, OpCopyInto, OpSendAs, OpSendOnBehalf}
	readOps := []Op{OpList, OpRead, OpSetSeen}
	manageOps := append(append([]Op(nil), readOps...),
		OpWrite, OpExpunge, OpAppend, OpCreateFolder, OpDeleteFolder, OpRenameFolder, OpMoveOut, OpCopyInto)

	tests := []struct {
		r       Rights
		allowed []Op
	}{
		{0, nil},
		{Read, readOps},
		{Manage, manageOps}, // manage implies read
		{Read | Manage, manageOps},
		{Send, []Op{OpSendAs, OpSendOnBehalf}}, // send implies on-behalf
		{SendOnBehalf, []Op{OpSendOnBehalf}},
		{Read | SendOnBehalf, append(append([]Op(nil), readOps...), OpSendOnBehalf)},
		{All, allOps},
	}
	for _, tt := range tests {
		want := map[Op]bool{}
		for _, op := range tt.allowed {
			want[op] = true
		}
		for _, op := range allOps {
			if got := Allows(tt.r, op); got != want[op] {
				t.Errorf("Allows(%q, %v) = %v, want %v", tt.r, op, got, want[op])
			}
		}
		// Unknown operations fail closed.
		for _, op := range []Op{0, -1, OpSendOnBehalf + 1} {
			if Allows(tt.r, op) {
				t.Errorf("Allows(%q, %v) = true for an unknown op", tt.r, op)
			}
		}
	}
	if OpSee != OpList {
		t.Error("OpSee must alias OpList")
	}
}

func TestRequired(t *testing.T) {
	tests := map[Op]Rights{
		OpList: Read, OpRead: Read, OpSetSeen: Read, OpWrite: Manage, OpExpunge: Manage,
		OpAppend: Manage, OpCreateFolder: Manage, OpDeleteFolder: Manage, OpRenameFolder: Manage,
		OpMoveOut: Manage, OpCopyInto: Manage, OpSendAs: Send, OpSendOnBehalf: SendOnBehalf, 99: 0,
	}
	for op, want := range tests {
		if got := Required(op); got != want {
			t.Errorf("Required(%v) = %v, want %v", op, got, want)
		}
	}
}

func TestOpString(t *testing.T) {
	if OpMoveOut.String() != "move-out" || Op(42).String() != "Op(42)" || Op(0).String() != "Op(0)" {
		t.Errorf("Op names: %s %s %s", OpMoveOut, Op(42), Op(0))
	}
}
