package main

// The Go load generator: the same workloads as bench/imapwork.py, through
// go-imap's imapclient over STARTTLS, so the project's own client can be
// compared with the independent ones on the same server in the same run.

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

type loadConfig struct {
	addr, user, pass, folder, server string
	appendFolder                     string
	n, appendN, first, reps          int
}

// result is one measurement, the line format bench/report.py reads.
type result struct {
	Server   string  `json:"server"`
	Client   string  `json:"client"`
	Workload string  `json:"workload"`
	N        int     `json:"n"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
}

func emit(r result) {
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

func dial(addr, user, pass string) (*imapclient.Client, error) {
	c, err := imapclient.DialStartTLS(addr, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		return nil, err
	}
	if err := c.Login(user, pass).Wait(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Spread returns the UIDs of "1,000 bodies in one FETCH": 1000 UIDs
// evenly spread over 1..n (all of them when n < 1000). bench/imapwork.py
// computes the same set.
func Spread(n int) []imap.UID {
	k := min(n, 1000)
	uids := make([]imap.UID, 0, k)
	for i := range k {
		uids = append(uids, imap.UID(1+i*n/k))
	}
	return uids
}

// BodyTerm is the SEARCH BODY needle: it occurs in exactly one message.
func BodyTerm(n int) string { return fmt.Sprintf("of message %d:", n/2+7) }

// FromMatches is how many of messages 1..n SEARCH FROM "sender7@" finds.
func FromMatches(n int) int {
	c := 0
	for i := 1; i <= n; i++ {
		if i%100 == 7 {
			c++
		}
	}
	return c
}

func run(cfg loadConfig) error {
	c, err := dial(cfg.addr, cfg.user, cfg.pass)
	if err != nil {
		return err
	}
	defer c.Close()
	out := func(w string, v float64, unit string) {
		emit(result{Server: cfg.server, Client: "go-imapclient", Workload: w, N: cfg.n, Value: v, Unit: unit})
	}
	if cfg.appendN > 0 {
		af := cfg.appendFolder
		if af == "" {
			af = cfg.folder
		}
		c.Create(af, nil).Wait() // may exist already (the 100k run)
		start := time.Now()
		for i := cfg.first; i < cfg.first+cfg.appendN; i++ {
			msg := Message(i)
			ap := c.Append(af, int64(len(msg)), nil)
			ap.Write(msg)
			ap.Close()
			if _, err := ap.Wait(); err != nil {
				return fmt.Errorf("append %d: %w", i, err)
			}
		}
		emit(result{Server: cfg.server, Client: "go-imapclient", Workload: "append", N: cfg.first + cfg.appendN - 1, Value: float64(cfg.appendN) / time.Since(start).Seconds(), Unit: "msg/s"})
	}
	timed := func(name string, f func() error) error {
		var ms []float64
		for range cfg.reps {
			start := time.Now()
			if err := f(); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			ms = append(ms, float64(time.Since(start).Microseconds())/1000)
		}
		slices.Sort(ms)
		out(name, ms[len(ms)/2], "ms")
		return nil
	}
	expect := func(got, want int, what string) error {
		if got != want {
			return fmt.Errorf("%s: got %d, want %d", what, got, want)
		}
		return nil
	}
	all := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
	steps := []struct {
		name string
		f    func() error
	}{
		{"select", func() error {
			d, err := c.Select(cfg.folder, nil).Wait()
			if err != nil {
				return err
			}
			return expect(int(d.NumMessages), cfg.n, "EXISTS")
		}},
		{"fetch_flags", func() error {
			k, err := drain(c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true}))
			if err != nil {
				return err
			}
			return expect(k, cfg.n, "FETCH responses")
		}},
		{"fetch_envelope", func() error {
			k, err := drain(c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{Envelope: true}))
			if err != nil {
				return err
			}
			return expect(k, cfg.n, "FETCH responses")
		}},
		{"search_from", func() error {
			d, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "sender7@"}}}, nil).Wait()
			if err != nil {
				return err
			}
			return expect(len(d.AllUIDs()), FromMatches(cfg.n), "SEARCH FROM hits")
		}},
		{"search_body", func() error {
			d, err := c.UIDSearch(&imap.SearchCriteria{Body: []string{BodyTerm(cfg.n)}}, nil).Wait()
			if err != nil {
				return err
			}
			return expect(len(d.AllUIDs()), 1, "SEARCH BODY hits")
		}},
		{"fetch_1000_bodies", func() error {
			set := imap.UIDSetNum(Spread(cfg.n)...)
			k, err := drain(c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}))
			if err != nil {
				return err
			}
			return expect(k, len(Spread(cfg.n)), "FETCH responses")
		}},
	}
	for _, s := range steps {
		if err := timed(s.name, s.f); err != nil {
			return err
		}
	}
	return c.Logout().Wait()
}

// drain reads a FETCH to the end and counts its responses.
func drain(cmd *imapclient.FetchCommand) (int, error) {
	k := 0
	for m := cmd.Next(); m != nil; m = cmd.Next() {
		if _, err := m.Collect(); err != nil {
			return k, err
		}
		k++
	}
	return k, cmd.Close()
}

// idle opens conns authenticated connections, prints "ready", and keeps
// them until stdin is closed.
func idle(addr, user, pass string, conns int) error {
	var cs []*imapclient.Client
	for i := range conns {
		c, err := dial(addr, user, pass)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		cs = append(cs, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	for _, c := range cs {
		c.Close()
	}
	return nil
}
