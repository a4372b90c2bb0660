package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// KeyError is a problem with one configuration key. Load fills in File and
// Line; Validate alone (no file) leaves them empty.
type KeyError struct {
	File string // config file path as given to Load; "" when not from a file
	Line int    // 1-based line in File; 0 when unknown
	Key  string // dotted TOML key, e.g. "listen.smtp"; "" for file-level errors
	Msg  string // what is wrong; already names the key where that reads better

	// near is a key to point at when Key itself is not in the file, e.g.
	// tls.mode for a missing tls.cert_file.
	near string
}

func (e *KeyError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load returns the configuration to run with. path "" means the embedded
// defaults. Otherwise the TOML file at path is overlaid on Default(): keys the
// file does not set keep their default. Every problem found (syntax, unknown
// keys, wrong types, bad values) is reported as a *KeyError naming the file,
// line and key; several are joined with errors.Join so the admin can fix them
// in one go.
func Load(path string) (*Config, error) {
	c := Default()
	if path == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.overlay(path, data); err != nil {
		return nil, err
	}
	return c, nil
}

// overlay decodes data (the contents of file) on top of c and validates the
// result.
func (c *Config) overlay(file string, data []byte) error {
	lines := indexKeyLines(data)

	// A first pass into a generic map separates TOML syntax errors (which are
	// about the file, not about a key of ours) from value errors in the
	// typed pass below.
	var raw map[string]any
	rawMD, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return &KeyError{File: file, Line: pe.Position.Line, Msg: "syntax error: " + pe.Message}
		}
		return &KeyError{File: file, Msg: err.Error()}
	}

	// Unknown keys are checked against the toml tags of Config rather than
	// taken from MetaData.Undecoded alone: the decoder matches field names
	// case-insensitively, so "SMTP" would silently set listen.smtp, yet TOML
	// keys are case-sensitive and SPEC §3 names them in lower case.
	known := knownKeys()
	var errs []error
	for _, k := range rawMD.Keys() {
		if _, ok := known[strings.Join(k, "\x00")]; ok {
			continue
		}
		// Report only the outermost unknown key: an unknown table's
		// children add nothing.
		if len(k) > 1 {
			if _, ok := known[strings.Join(k[:len(k)-1], "\x00")]; !ok {
				continue
			}
		}
		msg := fmt.Sprintf("unknown key %q", k.String())
		if s := suggest(k, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		errs = append(errs, &KeyError{File: file, Line: lines.find(k), Key: k.String(), Msg: msg})
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(c)
	if err != nil {
		return decodeError(file, lines, err)
	}
	// Belt and braces: anything the decoder did not consume is unknown too.
	for _, k := range md.Undecoded() {
		errs = append(errs, &KeyError{File: file, Line: lines.find(k), Key: k.String(),
			Msg: fmt.Sprintf("unknown key %q", k.String())})
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	if err := c.Validate(); err != nil {
		return locate(file, lines, err)
	}
	return nil
}

// decodeError turns an error of the typed decode into a *KeyError. The
// decoder reports value errors in two shapes: ParseError (values rejected by
// an UnmarshalText, such as a bad duration) and a plain error whose text
// starts `toml: line N (last key "k"): ` (type mismatches).
var lastKeyRE = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key ("(?:[^"\\]|\\.)*")\): (.*)$`)

func decodeError(file string, lines keyLines, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &KeyError{File: file, Line: pe.Position.Line, Key: pe.LastKey,
			Msg: fmt.Sprintf("%s: %s", pe.LastKey, pe.Message)}
	}
	if m := lastKeyRE.FindStringSubmatch(err.Error()); m != nil {
		key, uerr := strconv.Unquote(m[2])
		if uerr != nil {
			key = m[2]
		}
		line, _ := strconv.Atoi(m[1])
		if line == 0 {
			line = lines.find(splitKey(key))
		}
		return &KeyError{File: file, Line: line, Key: key, Msg: fmt.Sprintf("%s: %s", key, m[3])}
	}
	return &KeyError{File: file, Msg: err.Error()}
}

// locate adds file and line to the *KeyErrors of a Validate error.
func locate(file string, lines keyLines, err error) error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		var ke *KeyError
		if errors.As(e, &ke) {
			cp := *ke
			cp.File = file
			cp.Line = lines.find(splitKey(ke.Key))
			if ke.near != "" && lines.exact(splitKey(ke.Key)) == 0 {
				cp.Line = lines.find(splitKey(ke.near))
			}
			e = &cp
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// knownKeys returns every key (tables and leaves) of the Config schema, each
// as its parts joined by NUL, from the toml struct tags.
func knownKeys() map[string]struct{} {
	out := map[string]struct{}{}
	for _, k := range schemaKeys(reflect.TypeOf(Config{}), nil, true) {
		out[strings.Join(k, "\x00")] = struct{}{}
	}
	return out
}

// schemaKeys walks t's toml tags. With tables true it also returns the keys
// of the tables themselves ("listen"), not only the leaves ("listen.smtp").
func schemaKeys(t reflect.Type, prefix []string, tables bool) [][]string {
	var out [][]string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		key := append(append([]string(nil), prefix...), name)
		// A struct that decodes itself from text (none today) is a leaf.
		if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(textUnmarshaler) {
			if tables {
				out = append(out, key)
			}
			out = append(out, schemaKeys(f.Type, key, tables)...)
			continue
		}
		out = append(out, key)
	}
	return out
}

var textUnmarshaler = reflect.TypeOf((*interface{ UnmarshalText([]byte) error })(nil)).Elem()

// suggest returns the known key closest to an unknown one, if it is close
// enough to be a likely typo (edit distance ≤ 2, same table).
func suggest(k toml.Key, known map[string]struct{}) string {
	best, bestD := "", 3
	var cands []string
	for kk := range known {
		cands = append(cands, kk)
	}
	sort.Strings(cands) // deterministic choice between equally close keys
	for _, kk := range cands {
		parts := strings.Split(kk, "\x00")
		if len(parts) != len(k) || strings.Join(parts[:len(parts)-1], "\x00") != strings.Join(k[:len(k)-1], "\x00") {
			continue
		}
		if d := editDistance(strings.ToLower(k[len(k)-1]), parts[len(parts)-1]); d < bestD {
			best, bestD = toml.Key(parts).String(), d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// splitKey splits a dotted key written by Validate or toml.Key.String.
// Quoted parts only occur in keys that are not in our schema, and those come
// from MetaData as toml.Key already, so a plain split is enough here.
func splitKey(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ".")
}
