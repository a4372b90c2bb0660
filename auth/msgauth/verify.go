package msgauth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
)

// maxDKIMSignatures caps how many DKIM-Signature fields are checked per
// message: each costs a DNS lookup and a body hash, so an unbounded number
// is a cheap denial of service. Legitimate mail rarely carries more than 3.
const maxDKIMSignatures = 8

// Verifier checks SPF, DKIM and DMARC for inbound mail. It is safe for
// concurrent use; it holds no per-message state.
type Verifier struct {
	resolver Resolver
	hostname string
}

// NewVerifier returns a Verifier that does all DNS lookups through r.
// hostname is our own host name (the authserv-id callers usually pass to
// AuthResultsHeader); a nil r means the system resolver.
func NewVerifier(r Resolver, hostname string) *Verifier {
	if r == nil {
		r = net.DefaultResolver
	}
	return &Verifier{resolver: r, hostname: hostname}
}

// Hostname returns the host name the Verifier was created with.
func (v *Verifier) Hostname() string { return v.hostname }

// Input is what the SMTP session knows about the sender before the data.
type Input struct {
	RemoteIP net.IP // client address
	Helo     string // EHLO/HELO name
	MailFrom string // MAIL FROM address without brackets; "" for the null sender <>
}

// Action is what the caller should do with the message, derived from the
// DMARC policy on DMARC failure.
type Action int

const (
	Accept     Action = iota // deliver normally
	Quarantine               // deliver to Junk
	Reject                   // answer 550 5.7.1
)

func (a Action) String() string {
	switch a {
	case Accept:
		return "accept"
	case Quarantine:
		return "quarantine"
	case Reject:
		return "reject"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// SPFResult is the outcome of the SPF check (RFC 7208).
type SPFResult struct {
	// Result is one of pass, fail, softfail, neutral, none, temperror,
	// permerror.
	Result authres.ResultValue
	// Domain is the domain whose policy was evaluated: the MAIL FROM
	// domain, or the HELO name for the null sender. DMARC aligns on it.
	Domain string
	// Identity is "mailfrom" or "helo", telling which identity Domain is.
	Identity string
	Reason   string
}

// DKIMResult is the outcome of one DKIM-Signature field (RFC 6376).
type DKIMResult struct {
	// Result is pass, fail (signature or body hash mismatch), temperror
	// (key lookup failed transiently) or permerror (malformed signature,
	// missing or bad key).
	Result     authres.ResultValue
	Domain     string // d=
	Selector   string // s=
	Identifier string // i= (defaults to "@" + d=)
	Reason     string
}

// DMARCResult is the outcome of DMARC evaluation (RFC 7489).
type DMARCResult struct {
	// Result is pass, fail, none (no policy, or no single From domain),
	// temperror or permerror (malformed record).
	Result authres.ResultValue
	// Policy is the policy that applies to FromDomain: "none",
	// "quarantine" or "reject" (sp= for subdomains when the record came
	// from the organisational domain); "" when there is no record.
	Policy string
	// Percent is the record's pct= (100 when absent).
	Percent    int
	FromDomain string // domain of the single RFC5322.From address
	// RecordDomain is where the record was found: FromDomain or its
	// organisational domain.
	RecordDomain string
	SPFAligned   bool
	DKIMAligned  bool
	Reason       string
}

// Result is the full verdict for one message.
type Result struct {
	SPF    SPFResult
	DKIM   []DKIMResult // one per DKIM-Signature field, in header order
	DMARC  DMARCResult
	Action Action
	// mailFrom and helo are kept for the Authentication-Results field.
	mailFrom, helo string
}

// Verify checks SPF for in, then reads msg (the complete message, header
// and body) once to verify DKIM signatures, then evaluates DMARC. msg is
// not necessarily read to EOF: without DKIM signatures only the header
// block is read. Pass a fresh reader over the spooled message.
//
// DNS problems never produce an error: they become temperror/permerror
// results, and the Action stays Accept unless DMARC positively fails. The
// error is non-nil only when msg cannot be read or its header block
// exceeds MaxHeaderBytes; the caller should then answer with a temporary
// (read failure) or permanent (ErrHeaderTooLarge) SMTP error.
func (v *Verifier) Verify(ctx context.Context, in Input, msg io.Reader) (Result, error) {
	res := Result{mailFrom: in.MailFrom, helo: in.Helo}
	res.SPF = v.checkSPF(ctx, in)

	br := bufio.NewReaderSize(msg, 64<<10)
	hdr, err := readHeaderBlock(br)
	if err != nil {
		return res, fmt.Errorf("msgauth: reading message header: %w", err)
	}
	fields := parseHeaderFields(hdr)

	res.DKIM, err = v.checkDKIM(ctx, hdr, fields, br)
	if err != nil {
		return res, err
	}
	res.DMARC, res.Action = v.checkDMARC(ctx, fields, res.SPF, res.DKIM)
	return res, nil
}

func (v *Verifier) checkSPF(ctx context.Context, in Input) SPFResult {
	out := SPFResult{Identity: "mailfrom", Domain: domainOf(in.MailFrom)}
	if in.MailFrom == "" || out.Domain == "" {
		// RFC 7208 section 2.4: with a null reverse-path the HELO
		// identity is checked (the library does the same).
		out.Identity = "helo"
		out.Domain = strings.ToLower(strings.TrimSuffix(in.Helo, "."))
	}
	r, err := spf.CheckHostWithSender(in.RemoteIP, in.Helo, in.MailFrom,
		spf.WithContext(ctx), spf.WithResolver(v.resolver))
	out.Result = authres.ResultValue(r)
	if err != nil && r != spf.Pass && !errors.Is(err, spf.ErrNoResult) {
		out.Reason = err.Error()
	}
	return out
}

// checkDKIM verifies every DKIM-Signature (up to maxDKIMSignatures) while
// streaming the body once.
func (v *Verifier) checkDKIM(ctx context.Context, hdr []byte, fields []headerField, body io.Reader) ([]DKIMResult, error) {
	var sigs []headerField
	for _, f := range fields {
		if strings.EqualFold(f.Name, "DKIM-Signature") {
			sigs = append(sigs, f)
		}
	}
	if len(sigs) == 0 {
		// Nothing to hash; don't read the (possibly 50 MB) body at all.
		return nil, nil
	}
	if len(sigs) > maxDKIMSignatures {
		sigs = sigs[:maxDKIMSignatures]
	}

	// Remember read errors from the caller's reader: go-msgauth reports
	// them mixed with verification errors, and an I/O failure must not be
	// mistaken for a bad signature.
	er := &errReader{r: io.MultiReader(strings.NewReader(string(hdr)), body)}
	opts := &dkim.VerifyOptions{
		LookupTXT:        func(name string) ([]string, error) { return v.resolver.LookupTXT(ctx, name) },
		MaxVerifications: maxDKIMSignatures,
	}
	verifs, err := dkim.VerifyWithOptions(er, opts)
	if er.err != nil {
		return nil, fmt.Errorf("msgauth: reading message: %w", er.err)
	}
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		// The library could not even parse the header; report every
		// signature as permerror rather than failing the whole check.
		out := make([]DKIMResult, len(sigs))
		for i, s := range sigs {
			out[i] = dkimFromTags(s.Value)
			out[i].Result = authres.ResultPermError
			out[i].Reason = err.Error()
		}
		return out, nil
	}

	out := make([]DKIMResult, 0, len(verifs))
	for i, ver := range verifs {
		r := DKIMResult{}
		if i < len(sigs) {
			r = dkimFromTags(sigs[i].Value)
		}
		if ver.Domain != "" {
			r.Domain = ver.Domain
		}
		if ver.Identifier != "" {
			r.Identifier = ver.Identifier
		}
		switch {
		case ver.Err == nil:
			r.Result = authres.ResultPass
		case dkim.IsTempFail(ver.Err):
			r.Result = authres.ResultTempError
		case dkim.IsPermFail(ver.Err):
			r.Result = authres.ResultPermError
		default:
			r.Result = authres.ResultFail
		}
		if ver.Err != nil {
			r.Reason = ver.Err.Error()
		}
		out = append(out, r)
	}
	return out, nil
}

// dkimFromTags extracts d=, s= and i= from a DKIM-Signature value; the
// library's Verification does not expose the selector.
func dkimFromTags(value string) DKIMResult {
	var r DKIMResult
	for _, tag := range strings.Split(value, ";") {
		k, val, ok := strings.Cut(tag, "=")
		if !ok {
			continue
		}
		val = strings.Join(strings.Fields(val), "")
		switch strings.TrimSpace(k) {
		case "d":
			r.Domain = val
		case "s":
			r.Selector = val
		case "i":
			r.Identifier = val
		}
	}
	return r
}

type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// domainOf returns the lower-cased domain of an address, "" if none.
func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(strings.Trim(addr[i+1:], "<> "), "."))
}

// AuthResultsHeader returns the value of one Authentication-Results field
// (RFC 8601) for this result, e.g.
//
//	mail.example.com; spf=pass smtp.mailfrom=a@example.org;
//	dkim=pass header.d=example.org header.s=sel; dmarc=pass header.from=example.org
//
// There is one dkim= entry per signature, or dkim=none. Wrap it with
// HeaderField("Authentication-Results", ...) to get a header line.
func (r Result) AuthResultsHeader(authservID string) string {
	var results []authres.Result

	spfRes := &authres.SPFResult{Value: r.SPF.Result, Reason: safeReason(r.SPF.Reason)}
	if r.SPF.Identity == "helo" {
		spfRes.Helo = r.SPF.Domain
	} else {
		spfRes.From = r.mailFrom
	}
	results = append(results, spfRes)

	if len(r.DKIM) == 0 {
		results = append(results, &authres.DKIMResult{Value: authres.ResultNone})
	}
	for _, d := range r.DKIM {
		// GenericResult so that header.s (the selector) can be included;
		// authres.Parse still reads it back as a *authres.DKIMResult.
		params := map[string]string{
			"header.d": d.Domain,
			"header.s": d.Selector,
			"header.i": d.Identifier,
		}
		if d.Result != authres.ResultPass {
			params["reason"] = safeReason(d.Reason)
		}
		results = append(results, &authres.GenericResult{Method: "dkim", Value: d.Result, Params: params})
	}

	dm := map[string]string{
		"header.from":  r.DMARC.FromDomain,
		"policy.dmarc": r.DMARC.Policy,
	}
	if r.DMARC.Result != authres.ResultPass {
		dm["reason"] = safeReason(r.DMARC.Reason)
	}
	results = append(results, &authres.GenericResult{Method: "dmarc", Value: r.DMARC.Result, Params: dm})

	// authres.Format leaves a space before ';' when a result has no
	// parameters ("dkim=none ;"); tidy it.
	return strings.ReplaceAll(strings.TrimSpace(authres.Format(traceToken(authservID), results)), " ;", ";")
}

// safeReason makes a free-text reason safe inside a structured header:
// no ';' (result separator), quotes, backslashes, '=' or control chars,
// and short enough not to bloat the header.
func safeReason(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r < ' ' || r == 0x7f:
			return ' '
		case strings.ContainsRune(";\"\\=()", r):
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 100 {
		s = string(r[:100])
	}
	return s
}
