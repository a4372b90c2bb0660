package dns

import (
	"context"
	"fmt"
	"net"
	"strings"

	"blitiri.com.ar/go/spf"
	mdns "github.com/miekg/dns"
)

// spfLookupLimit is RFC 7208 §4.6.4's limit on DNS-querying terms.
const spfLookupLimit = 10

// spfRecords returns the TXT strings that are SPF records (RFC 7208 §4.5:
// "v=spf1" followed by a space or the end).
func spfRecords(txts []string) []string {
	var out []string
	for _, t := range txts {
		l := strings.ToLower(t)
		if l == "v=spf1" || strings.HasPrefix(l, "v=spf1 ") {
			out = append(out, t)
		}
	}
	return out
}

// checkSPF checks that exactly one SPF record exists, that it ends in -all
// or ~all, stays under the lookup limit and authorises every server
// address. Authorisation is evaluated by blitiri.com.ar/go/spf through our
// resolver, so it is the same evaluation receivers do, against the same
// server the other checks use.
func (v *verifier) checkSPF(ctx context.Context, addrs []net.IP) {
	c := Check{Name: "SPF", Expected: v.expected(v.p.domainFQDN, "TXT", "v=spf1")}
	a := v.r.query(ctx, v.p.Domain, mdns.TypeTXT)
	if a.outcome != found && !a.missing() {
		c.Status, c.Message = StatusFail, a.describe()
		v.add(c)
		return
	}
	recs := spfRecords(a.txts())
	c.Found = strings.Join(recs, "\n")
	switch {
	case len(recs) == 0:
		msg := "no SPF record (no TXT starting with v=spf1)"
		if a.missing() {
			msg = a.describe()
		}
		c.Status, c.Message = StatusFail, msg
		v.add(c)
		return
	case len(recs) > 1:
		c.Status = StatusFail
		c.Message = fmt.Sprintf("%d SPF records: receivers treat that as a permanent error; merge them into one", len(recs))
		v.add(c)
		return
	}

	var problems []string
	if p := spfAllProblem(recs[0]); p != "" {
		problems = append(problems, p)
	}
	n, incProblems := v.spfLookups(ctx, recs[0], 0, map[string]bool{v.p.Domain: true})
	problems = append(problems, incProblems...)
	if n > spfLookupLimit {
		problems = append(problems, fmt.Sprintf("needs %d DNS lookups, over the limit of %d (RFC 7208 §4.6.4), so receivers get permerror", n, spfLookupLimit))
	}
	if len(problems) == 0 {
		res := spfResolver{v.r}
		for _, ip := range addrs {
			result, err := spf.CheckHostWithSender(ip, v.p.Hostname, "postmaster@"+v.p.Domain,
				spf.WithResolver(res), spf.WithContext(ctx))
			if result != spf.Pass {
				msg := fmt.Sprintf("does not authorise %s (result %s)", ip, result)
				if err != nil && result != spf.Fail && result != spf.SoftFail {
					msg += ": " + err.Error()
				}
				problems = append(problems, msg)
			}
		}
	}
	switch {
	case len(problems) > 0:
		c.Status, c.Message = StatusFail, strings.Join(problems, "; ")
	case len(addrs) == 0:
		c.Status, c.Message = StatusWarn, "record is valid, but no server address is known to check authorisation; pass --ip"
	default:
		c.Status, c.Message = StatusOK, fmt.Sprintf("authorises this server, %d of %d DNS lookups", n, spfLookupLimit)
	}
	v.add(c)
}

// spfAllProblem checks the record's final "all" (a redirect= is an
// acceptable ending: the target decides).
func spfAllProblem(rec string) string {
	var last, redirect string
	for _, term := range strings.Fields(rec)[1:] {
		t := strings.ToLower(term)
		if strings.HasPrefix(t, "redirect=") {
			redirect = t
		}
		if strings.TrimLeft(t, "+-~?") == "all" {
			last = t
		}
	}
	switch last {
	case "-all", "~all":
		return ""
	case "all", "+all":
		return last + " authorises every host on the internet to send as this domain"
	case "?all":
		return "?all (neutral) does not protect the domain; end with -all or ~all"
	}
	if redirect != "" {
		return ""
	}
	return "does not end in -all or ~all"
}

// spfLookups counts the DNS-querying terms of rec statically, following
// include: and redirect= (RFC 7208 §4.6.4). Counting the whole tree, rather
// than evaluating for one IP, finds a record that only some senders push
// over the limit. It also reports includes that have no SPF record, which
// receivers treat as permerror.
func (v *verifier) spfLookups(ctx context.Context, rec string, depth int, seen map[string]bool) (int, []string) {
	n := 0
	var problems []string
	for _, term := range strings.Fields(rec)[1:] {
		t := strings.ToLower(strings.TrimLeft(term, "+-~?"))
		name, arg, _ := strings.Cut(t, ":")
		if strings.HasPrefix(t, "redirect=") {
			name, arg = "redirect", strings.TrimPrefix(t, "redirect=")
		}
		name, _, _ = strings.Cut(name, "/") // "a/24", "mx/24"
		switch name {
		case "a", "mx", "ptr", "exists":
			n++
		case "include", "redirect":
			n++
			// Macros depend on the sender; count the term, do not follow.
			if arg == "" || strings.Contains(arg, "%") || seen[arg] || depth >= spfLookupLimit {
				continue
			}
			seen[arg] = true
			a := v.r.query(ctx, arg, mdns.TypeTXT)
			sub := spfRecords(a.txts())
			if len(sub) != 1 {
				if a.outcome == found || a.missing() {
					problems = append(problems, fmt.Sprintf("%s:%s has %d SPF records (permerror)", name, arg, len(sub)))
				}
				continue
			}
			m, p := v.spfLookups(ctx, sub[0], depth+1, seen)
			n += m
			problems = append(problems, p...)
		}
	}
	return n, problems
}
