package admin

import (
	"strings"
	"testing"

	"mailsrv/dns"
	"mailsrv/dns/dnstest"
	"mailsrv/store"
)

// On a trial install the OS hostname is no DNS name: `domain records`
// still shows the records, for mail.<domain>, and says so; `domain verify`
// refuses with the fix, since it cannot check a name that does not exist.
func TestRecordsWithoutPublicHostname(t *testing.T) {
	h, _ := newSharedHandler(t)
	if err := storeOf(h).AddDomain(t.Context(), store.Domain{Name: "example.org"}); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"vm", "192.0.2.1"} {
		h.Config.Hostname = host
		var recs []dns.Record
		if e := do(t, h, "domain.records", dnsArgs{Name: "example.org"}, &recs); e != "" {
			t.Fatalf("hostname %q: records failed: %s", host, e)
		}
		var mx *dns.Record
		for i := range recs {
			if recs[i].Type == "MX" {
				mx = &recs[i]
			}
		}
		if mx == nil || mx.Value != "10 mail.example.org." || !strings.Contains(mx.Comment, `hostname "`+host+`" is not a public DNS name`) {
			t.Fatalf("hostname %q: MX record %+v", host, mx)
		}
		e := do(t, h, "domain.verify", dnsArgs{Name: "example.org", Resolver: "127.0.0.1:9"}, nil)
		if !strings.Contains(e, "set `hostname` in the config") {
			t.Fatalf("hostname %q: verify error %q", host, e)
		}
	}
	// A real name is used as is, without the note.
	h.Config.Hostname = "mx1.example.net"
	var recs []dns.Record
	if e := do(t, h, "domain.records", dnsArgs{Name: "example.org"}, &recs); e != "" {
		t.Fatal(e)
	}
	for _, r := range recs {
		if r.Type == "MX" && (r.Value != "10 mx1.example.net." || strings.Contains(r.Comment, "not a public")) {
			t.Fatalf("MX record %+v", r)
		}
	}
}

// A panicking operation answers with an error; the handler keeps serving.
// The panic is injected through WakeQueue, which queue.retry calls.
func TestHandlePanicIsAnError(t *testing.T) {
	h, _ := newSharedHandler(t)
	id := queuedItem(t, h)
	h.WakeQueue = func() { panic("op bug") }
	if e := do(t, h, "queue.retry", map[string]any{"id": id}, nil); !strings.Contains(e, "internal error in queue.retry: op bug") {
		t.Fatalf("error %q", e)
	}
	if e := do(t, h, "domain.list", nil, nil); e != "" {
		t.Fatalf("next request failed: %s", e)
	}
}

// queuedItem puts one message in the outbound queue and returns its id.
func queuedItem(t *testing.T, h *Handler) uint64 {
	t.Helper()
	w, err := storeOf(h).NewBlob(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("Subject: x\r\n\r\nbody\r\n"))
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := storeOf(h).Deliver(t.Context(), store.Delivery{Blob: w, Queue: &store.QueueItem{From: "alice@example.com", To: []string{"x@remote.example"}}}); err != nil {
		t.Fatal(err)
	}
	q, err := storeOf(h).Queue(t.Context())
	if err != nil || len(q) != 1 {
		t.Fatalf("queue %v %v", q, err)
	}
	return q[0].ID
}

// queue.retry reschedules the item and, in a running server, wakes the
// delivery loop.
func TestQueueRetryWakesDelivery(t *testing.T) {
	h, _ := newSharedHandler(t)
	id := queuedItem(t, h)
	woken := 0
	h.WakeQueue = func() { woken++ }
	if e := do(t, h, "queue.retry", map[string]any{"id": id}, nil); e != "" || woken != 1 {
		t.Fatalf("retry: error %q, woken %d times", e, woken)
	}
	if e := do(t, h, "queue.retry", map[string]any{"id": id + 99}, nil); e == "" || woken != 1 {
		t.Fatalf("retry of a missing item: error %q, woken %d times", e, woken)
	}
}

// `domain verify` says who receives postmaster@ and abuse@, and warns
// when nobody would (SPEC §4).
func TestVerifyWarnsWhenNobodyGetsPostmaster(t *testing.T) {
	h, _ := newSharedHandler(t)
	h.Config.Hostname = "mail.example.com"
	if err := storeOf(h).AddDomain(t.Context(), store.Domain{Name: "empty.org"}); err != nil {
		t.Fatal(err)
	}
	d := dnstest.StartZones(t, map[string]string{"example.com": "@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n"})
	checks := func(domain string) map[string]dns.Check {
		var rep dns.Report
		if e := do(t, h, "domain.verify", dnsArgs{Name: domain, Resolver: d.Addr()}, &rep); e != "" {
			t.Fatal(e)
		}
		out := map[string]dns.Check{}
		for _, c := range rep.Checks {
			out[c.Name] = c
		}
		return out
	}
	c := checks("empty.org")
	for _, n := range []string{"postmaster@empty.org", "abuse@empty.org"} {
		if c[n].Status != dns.StatusWarn || !strings.Contains(c[n].Message, "nobody would receive "+n) || !strings.Contains(c[n].Message, "mailsrv admin grant ADDR postmaster") {
			t.Errorf("%s: %+v", n, c[n])
		}
	}
	c = checks("example.com")
	if p := c["postmaster@example.com"]; p.Status != dns.StatusOK || p.Found != "alice@example.com" {
		t.Errorf("postmaster@example.com: %+v", p)
	}
	if _, err := storeOf(h).GrantRole(t.Context(), "carol@example.com", store.RolePostmaster, "admin"); err != nil {
		t.Fatal(err)
	}
	if p := checks("empty.org")["abuse@empty.org"]; p.Status != dns.StatusOK || p.Found != "carol@example.com" {
		t.Errorf("abuse@empty.org after grant: %+v", p)
	}
}
