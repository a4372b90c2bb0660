package testkit

import (
	"bufio"
	"context"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	c := NewClock(t0)
	c.Add(time.Minute)
	if err := c.Sleep(context.Background(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Now(), t0.Add(time.Minute+2*time.Second); !got.Equal(want) {
		t.Fatalf("Now = %v, want %v", got, want)
	}
	if c.Slept() != 2*time.Second {
		t.Fatalf("Slept = %v, want 2s (Add is not a sleep)", c.Slept())
	}
}

func TestFirstNum(t *testing.T) {
	re := regexp.MustCompile(`HIGHESTMODSEQ (\d+)`)
	if n := FirstNum(t, re, []string{"* 3 EXISTS", "* OK [HIGHESTMODSEQ 42] x", "* OK [HIGHESTMODSEQ 7]"}); n != 42 {
		t.Fatalf("FirstNum = %d, want 42", n)
	}
}

// TestIMAP drives the line helper against a scripted server: tags count
// up, untagged lines are split from the tagged reply, Until keeps CRLF.
func TestIMAP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var got []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte("* OK hello\r\n"))
		r := bufio.NewReader(c)
		for range 3 {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			got = append(got, l)
			tag, _, _ := strings.Cut(l, " ")
			c.Write([]byte("* 1 EXISTS\r\n" + tag + " OK done\r\n"))
		}
	}()
	m := DialIMAP(t, ln.Addr().String())
	m.Login(`a\b`, `p"w`)
	un, tagged := m.Cmd("NOOP")
	if !slices.Equal(un, []string{"* 1 EXISTS"}) || tagged != " OK done" {
		t.Fatalf("Cmd: %q %q", un, tagged)
	}
	if lines := m.MustOK("x9", "NOOP"); !slices.Equal(lines, []string{"* 1 EXISTS\r\n", "x9 OK done\r\n"}) {
		t.Fatalf("MustOK: %q", lines)
	}
	<-done
	want := []string{"a1 LOGIN \"a\\\\b\" \"p\\\"w\"\r\n", "a2 NOOP\r\n", "x9 NOOP\r\n"}
	if !slices.Equal(got, want) {
		t.Fatalf("server read %q, want %q", got, want)
	}
}
