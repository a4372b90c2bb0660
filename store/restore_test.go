package store

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Restore puts a snapshot back and checks it first: an archive cut at an
// entry boundary (no trailer), one missing a body, and a non-empty
// target are refused, and the target stays as it was.
func TestRestoreChecksTheArchive(t *testing.T) {
	s := newFileTestStore(t)
	a, _ := s.AddUser(t.Context(), "alice@example.com", "", "h")
	deliver(t, s, testMsg, Target{MailboxID: a.MailboxID})
	os.MkdirAll(filepath.Join(s.Dir(), "tls"), 0o700)
	os.WriteFile(filepath.Join(s.Dir(), "tls", "cert.pem"), []byte("CERT"), 0o600)
	var buf bytes.Buffer
	st, err := s.SnapshotWith(t.Context(), &buf, SnapshotOptions{ExtraDirs: []string{"tls", "acme"}})
	if err != nil || st.Blobs != 1 || st.Files != 1 {
		t.Fatalf("snapshot %+v %v", st, err)
	}
	// Rewrite the archive keeping only some entries.
	rewrite := func(keep func(name string) bool) []byte {
		var out bytes.Buffer
		tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
		tw := tar.NewWriter(&out)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			if keep(h.Name) {
				tw.WriteHeader(h)
				b := new(bytes.Buffer)
				b.ReadFrom(tr)
				tw.Write(b.Bytes())
			}
		}
		tw.Close()
		return out.Bytes()
	}
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"no trailer": {rewrite(func(n string) bool { return n != TrailerName }), "mailsrv-backup.end is missing"},
		"no body":    {rewrite(func(n string) bool { return !strings.HasPrefix(n, "blobs/") }), "the trailer counts 1 bodies"},
		"no body, no trailer": {rewrite(func(n string) bool { return !strings.HasPrefix(n, "blobs/") && n != TrailerName }),
			"is missing"},
		"no manifest": {rewrite(func(n string) bool { return n != ManifestName && n != DBFile }), "not " + ManifestName},
	} {
		target := filepath.Join(t.TempDir(), "d")
		if _, err := Restore(bytes.NewReader(c.data), target, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
		if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: target created", name)
		}
	}
	// A legacy archive (database first, no manifest) is accepted when
	// every body is there.
	legacy := rewrite(func(n string) bool { return n != ManifestName && n != TrailerName && !strings.HasPrefix(n, "tls/") })
	target := filepath.Join(t.TempDir(), "legacy")
	if rs, err := Restore(bytes.NewReader(legacy), target, nil); err != nil || !rs.Legacy || rs.Blobs != 1 {
		t.Fatalf("legacy restore %+v %v", rs, err)
	}
	// The real one, into an empty existing directory; then not again.
	target = t.TempDir()
	rs, err := Restore(bytes.NewReader(buf.Bytes()), target, nil)
	if err != nil || rs.Blobs != 1 || rs.Files != 1 {
		t.Fatalf("restore %+v %v", rs, err)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "tls", "cert.pem")); string(b) != "CERT" {
		t.Errorf("tls file: %q", b)
	}
	r := openTest(t, target)
	if u, err := r.User(t.Context(), "alice@example.com"); err != nil || u.PasswordHash != "h" {
		t.Fatalf("restored user %+v %v", u, err)
	}
	if _, err := Restore(bytes.NewReader(buf.Bytes()), target, nil); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("restore into a non-empty directory: %v", err)
	}
}
