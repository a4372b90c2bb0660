package smtpd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/emersion/go-smtp"
)

// TestDataReaderNormalises checks bare-LF and NUL handling independent of
// how the input is split into reads (CR and LF in different reads).
func TestDataReaderNormalises(t *testing.T) {
	cases := []struct{ in, want string }{
		{"a\r\nb\r\n", "a\r\nb\r\n"},
		{"a\nb\n", "a\r\nb\r\n"},
		{"a\rb\r\n", "a\rb\r\n"}, // bare CR is kept, like Postfix
		{"\x00a\x00\r\x00\n", "a\r\n"},
		{"\n\n\n", "\r\n\r\n\r\n"},
		{strings.Repeat("x\n", 50000), strings.Repeat("x\r\n", 50000)},
	}
	for _, tc := range cases {
		for name, r := range map[string]io.Reader{
			"whole":   strings.NewReader(tc.in),
			"onebyte": iotest.OneByteReader(strings.NewReader(tc.in)),
			"half":    iotest.HalfReader(strings.NewReader(tc.in)),
		} {
			d := &dataReader{r: r}
			got, err := io.ReadAll(d)
			if err != nil || string(got) != tc.want {
				t.Errorf("%s %.20q: got %.40q, %v; want %.40q", name, tc.in, got, err, tc.want)
			}
		}
	}
	// A read error arriving with data is returned after that data.
	boom := errors.New("boom")
	d := &dataReader{r: iotest.DataErrReader(io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(boom)))}
	got, err := io.ReadAll(d)
	if string(got) != "a\r\nb" || !errors.Is(err, boom) {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestTeeStreamConsumerStopsEarly(t *testing.T) {
	var dst strings.Builder
	src := strings.Repeat("0123456789", 100000)
	var head string
	n, err, cerr := teeStream(&dst, strings.NewReader(src), func(r io.Reader) error {
		b := make([]byte, 10)
		_, err := io.ReadFull(r, b)
		head = string(b)
		return err
	})
	if err != nil || cerr != nil || n != int64(len(src)) || dst.String() != src || head != "0123456789" {
		t.Fatalf("n=%d err=%v cerr=%v head=%q", n, err, cerr, head)
	}
}

// A panic in the consumer (message verification over untrusted input) is
// an error for this message; the copy still completes.
func TestTeeStreamConsumerPanicIsAnError(t *testing.T) {
	var dst strings.Builder
	src := strings.Repeat("x", 100000)
	n, err, cerr := teeStream(&dst, strings.NewReader(src), func(r io.Reader) error {
		r.Read(make([]byte, 10))
		panic("verifier bug")
	})
	if err != nil || n != int64(len(src)) || dst.String() != src {
		t.Fatalf("copy: n=%d err=%v", n, err)
	}
	if cerr == nil || !strings.Contains(cerr.Error(), "verifier bug") {
		t.Fatalf("consumer error = %v, want the panic reported", cerr)
	}
}

// A full disk is reported as such (452 4.3.1), however deep the store
// wrapped the error; other storage failures stay 451 4.3.0.
func TestStoreErrorAnswers(t *testing.T) {
	full := fmt.Errorf("commit: %w", &os.PathError{Op: "write", Path: "mailsrv.db", Err: syscall.ENOSPC})
	if se := storeError(full); se.Code != 452 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 1}) {
		t.Fatalf("disk full answered %d %v", se.Code, se.EnhancedCode)
	}
	if se := storeError(&os.PathError{Op: "write", Err: syscall.EDQUOT}); se.Code != 452 {
		t.Fatalf("quota exceeded answered %d", se.Code)
	}
	if se := storeError(errors.New("database is closed")); se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 0}) {
		t.Fatalf("other failure answered %d %v", se.Code, se.EnhancedCode)
	}
}
