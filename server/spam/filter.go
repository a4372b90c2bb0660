package spam

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/authres"

	"mailsrv/auth/msgauth"
	"mailsrv/server/config"
	"mailsrv/server/metrics"
)

// Options configures New.
type Options struct {
	Store  Store
	Config config.Spam
	// Resolver answers the DNSBL queries; nil = the system resolver.
	Resolver IPResolver
	Hostname string
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	// HTTPClient talks to rspamd; nil = a client of its own.
	HTTPClient *http.Client
	// DNSBLTimeout and RspamdTimeout default to 3 and 10 seconds.
	DNSBLTimeout, RspamdTimeout time.Duration
	Now                         func() time.Time
}

// Filter decides what happens to inbound mail. It is safe for concurrent
// use; its only state is the DNSBL cache.
type Filter struct {
	opts   Options
	log    *slog.Logger
	dnsbl  *dnsbl
	rspamd *rspamdClient
}

// New returns a Filter. A zero Config means: policy results and headers
// only (no classifier, no DNSBL, no rspamd).
func New(opts Options) *Filter {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	f := &Filter{opts: opts, log: opts.Log}
	if len(opts.Config.DNSBL) > 0 {
		f.dnsbl = &dnsbl{zones: opts.Config.DNSBL, resolver: opts.Resolver,
			timeout: cmpOr(opts.DNSBLTimeout, dnsblTimeout), now: opts.Now}
	}
	if u := opts.Config.RspamdURL; u != "" {
		hc := opts.HTTPClient
		if hc == nil {
			hc = &http.Client{}
		}
		f.rspamd = &rspamdClient{url: strings.TrimRight(u, "/"), http: hc, timeout: cmpOr(opts.RspamdTimeout, rspamdTimeout)}
	}
	return f
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// CheckClient looks the connecting address up in the configured DNSBL
// zones and returns the first zone that lists it, or "". Lookups are
// cached and bounded in time; a failing zone lists nobody.
func (f *Filter) CheckClient(ctx context.Context, ip net.IP, log *slog.Logger) string {
	if f == nil || f.dnsbl == nil {
		return ""
	}
	zone, results := f.dnsbl.check(ctx, ip)
	for _, r := range results {
		switch {
		case r.err != nil:
			f.opts.Metrics.SpamCheck("dnsbl", "error")
			log.Warn("DNSBL lookup failed; not blocking", "zone", r.zone, "ip", ip.String(), "err", r.err)
		case r.listed:
			f.opts.Metrics.SpamCheck("dnsbl", "listed")
		default:
			f.opts.Metrics.SpamCheck("dnsbl", "clean")
		}
	}
	if zone != "" {
		f.opts.Metrics.SpamVerdict("reject", "dnsbl")
		log.Info("client listed in DNSBL", "zone", zone, "ip", ip.String())
	}
	return zone
}

// Input is what MX intake knows about one message.
type Input struct {
	// Auth is the SPF/DKIM/DMARC result; nil when nothing was verified.
	Auth     *msgauth.Result
	RemoteIP net.IP
	Helo     string
	MailFrom string
	Rcpts    []string
	// Mailboxes are the recipient mailboxes, each classified on its own.
	Mailboxes []uint64
	QueueID   string
	// Open returns the message as received (without our trace fields).
	Open func() (io.ReadCloser, error)
	Log  *slog.Logger
}

// Verdict is what MX intake does with the message as a whole.
type Verdict int

const (
	Deliver  Verdict = iota // deliver each copy where Placement says
	Refuse                  // answer Code (5xx), keep nothing
	TryLater                // answer Code (4xx), keep nothing
)

// Decision is the filter's answer for one message.
type Decision struct {
	Verdict Verdict
	// Code, Enhanced and Text form the SMTP reply for Refuse and TryLater.
	Code     int
	Enhanced [3]int
	Text     string
	// Reason names the deciding check (metrics label, log).
	Reason string
	// Placements per mailbox id, for Deliver.
	Placements map[uint64]Placement
}

// Placement is where one mailbox's copy goes and the fields it carries.
type Placement struct {
	Junk   bool
	Header []byte // X-Spam-Status and X-Spam-Score, CRLF-terminated
	Status string // the X-Spam-Status value, for logs
}

// Folder returns the folder name for a store.Target ("" = INBOX).
func (p Placement) Folder() string {
	if p.Junk {
		return "Junk"
	}
	return ""
}

// Check decides about one message: refuse it (DMARC p=reject, rspamd
// reject), ask for a retry (rspamd soft reject/greylist) or deliver each
// mailbox's copy to INBOX or Junk with its spam header fields.
func (f *Filter) Check(ctx context.Context, in Input) Decision {
	log := in.Log
	if log == nil {
		log = f.log
	}
	if in.Auth != nil && in.Auth.Action == msgauth.Reject {
		f.opts.Metrics.SpamVerdict("reject", "dmarc")
		return Decision{Verdict: Refuse, Code: 550, Enhanced: [3]int{5, 7, 1}, Reason: "dmarc",
			Text: "Rejected by the DMARC policy of " + in.Auth.DMARC.FromDomain}
	}
	base := policyScore(in.Auth)
	if d, stop := f.askRspamd(ctx, in, &base, log); stop {
		return d
	}
	var feat *Features
	if f.opts.Config.JunkFilter && in.Open != nil && f.anyReady(ctx, in.Mailboxes, log) {
		if r, err := in.Open(); err != nil {
			log.Error("junk filter: open message", "err", err)
		} else {
			ft := Tokenize(r)
			r.Close()
			feat = &ft
		}
	}
	d := Decision{Verdict: Deliver, Placements: make(map[uint64]Placement, len(in.Mailboxes))}
	for _, mbid := range in.Mailboxes {
		s := base.clone()
		known := false
		if feat != nil {
			known = f.classify(ctx, mbid, feat, in.Auth, &s, log)
		}
		junk, why := s.isJunk()
		switch {
		case junk && why == "score" && s.has("BAYES_SPAM", "BAYES_PROBABLY_SPAM"):
			why = "bayes"
		case !junk && known:
			why = "known_sender"
		case !junk:
			why = "clean"
		}
		verdict := "inbox"
		if junk {
			verdict = "junk"
		}
		f.opts.Metrics.SpamVerdict(verdict, strings.ToLower(why))
		hdr := s.headers(junk)
		d.Placements[mbid] = Placement{Junk: junk, Header: hdr, Status: statusOf(hdr)}
	}
	return d
}

// anyReady reports whether one of the mailboxes' filters holds enough
// training to decide: otherwise the message is not even tokenized (most
// mailboxes of a fresh server, and every benchmark).
func (f *Filter) anyReady(ctx context.Context, mailboxes []uint64, log *slog.Logger) bool {
	for _, mbid := range mailboxes {
		st, err := f.opts.Store.SpamStatsOf(ctx, mbid)
		if err != nil {
			log.Error("junk filter: read state", "mailbox", mbid, "err", err)
			continue
		}
		if st.Spam >= MinTrained && st.Ham >= MinTrained {
			return true
		}
	}
	return false
}

func statusOf(hdr []byte) string {
	line, _, _ := strings.Cut(string(hdr), "\r\nX-Spam-Score:")
	line = strings.TrimPrefix(line, "X-Spam-Status: ")
	return strings.Join(strings.Fields(line), " ")
}

func (s *score) has(names ...string) bool {
	for _, r := range s.reasons {
		for _, n := range names {
			if r.Name == n && r.Points > 0 {
				return true
			}
		}
	}
	return false
}

// classify adds the mailbox's classifier verdict to s. The classifier
// alone never junks a known sender: its spam points are dropped then. It
// reports whether the sender is known.
func (f *Filter) classify(ctx context.Context, mbid uint64, feat *Features, auth *msgauth.Result, s *score, log *slog.Logger) bool {
	st, counts, err := f.opts.Store.SpamLookup(ctx, mbid, feat.Hashes())
	if err != nil {
		log.Error("junk filter: read state", "mailbox", mbid, "err", err)
		return false
	}
	known := f.knownSender(ctx, mbid, feat.From, auth, log)
	if known {
		s.add("KNOWN_SENDER", pointsKnownSender)
	}
	p, ok := SpamProbability(counts, st.Spam, st.Ham)
	if !ok {
		return known
	}
	name, points := "", 0.0
	switch {
	case p >= 0.9:
		name, points = "BAYES_SPAM", pointsBayesSpam
	case p >= 0.7:
		name, points = "BAYES_PROBABLY_SPAM", pointsBayesProbable
	case p <= 0.1:
		name, points = "BAYES_HAM", pointsBayesHam
	default:
		name = "BAYES_UNSURE"
	}
	if known && points > 0 {
		points = 0
	}
	s.add(name, points)
	return known
}

// knownSender reports whether the mailbox wrote to the From address (or
// kept its mail as ham). A known domain counts only when DMARC passed for
// it, and nothing counts when DMARC failed: a forged From must not buy
// its way past the filter.
func (f *Filter) knownSender(ctx context.Context, mbid uint64, from string, auth *msgauth.Result, log *slog.Logger) bool {
	if from == "" || auth != nil && auth.DMARC.Result == authres.ResultFail {
		return false
	}
	keys := []string{from}
	if d := domainOf(from); d != "" && auth != nil && auth.DMARC.Result == authres.ResultPass {
		keys = append(keys, "@"+d)
	}
	known, err := f.opts.Store.SpamKnown(ctx, mbid, keys)
	if err != nil {
		log.Error("junk filter: read known senders", "mailbox", mbid, "err", err)
		return false
	}
	return len(known) > 0
}

// askRspamd asks rspamd (when configured) and applies its action. stop
// means the message is refused or deferred with the returned Decision.
func (f *Filter) askRspamd(ctx context.Context, in Input, s *score, log *slog.Logger) (Decision, bool) {
	if f.rspamd == nil || in.Open == nil {
		return Decision{}, false
	}
	r, err := in.Open()
	if err != nil {
		log.Error("rspamd: open message", "err", err)
		return Decision{}, false
	}
	res, err := f.rspamd.check(ctx, rspamdQuery{IP: in.RemoteIP, Helo: in.Helo, MailFrom: in.MailFrom,
		Rcpts: in.Rcpts, QueueID: in.QueueID, Hostname: f.opts.Hostname}, r)
	r.Close()
	if err != nil {
		f.opts.Metrics.SpamCheck("rspamd", "error")
		log.Warn("rspamd unavailable; delivering without it", "err", err)
		s.add("RSPAMD_UNAVAILABLE", 0)
		return Decision{}, false
	}
	log.Info("rspamd verdict", "action", res.Action, "score", res.Score, "required", res.RequiredScore)
	switch res.Action {
	case rspamdReject:
		f.opts.Metrics.SpamCheck("rspamd", "reject")
		f.opts.Metrics.SpamVerdict("reject", "rspamd")
		return Decision{Verdict: Refuse, Code: 554, Enhanced: [3]int{5, 7, 1}, Reason: "rspamd",
			Text: "Message rejected as spam"}, true
	case rspamdSoftReject, rspamdGreylist:
		f.opts.Metrics.SpamCheck("rspamd", strings.ReplaceAll(res.Action, " ", "_"))
		f.opts.Metrics.SpamVerdict("tempfail", "rspamd")
		return Decision{Verdict: TryLater, Code: 451, Enhanced: [3]int{4, 7, 1}, Reason: "rspamd",
			Text: "Message deferred by the spam filter, try again later"}, true
	case rspamdAddHeader, rspamdRewrite:
		f.opts.Metrics.SpamCheck("rspamd", "spam")
		s.force("RSPAMD_SPAM", pointsRspamdJunk)
	default:
		f.opts.Metrics.SpamCheck("rspamd", "clean")
		s.add("RSPAMD_CLEAN", 0)
	}
	return Decision{}, false
}
