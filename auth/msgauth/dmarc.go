package msgauth

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/mail"
	"strings"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// checkDMARC evaluates DMARC (RFC 7489) and derives the Action.
//
// Decisions worth knowing:
//   - The From domain comes from the message's From: field, which must hold
//     exactly one address. A missing From, several From fields or several
//     addresses give DMARC result "none" (Action Accept) instead of
//     guessing which author to hold responsible; the Authentication-Results
//     reason says why, so a filter can still act on it.
//   - The record is looked up at the From domain, then at its
//     organisational domain (publicsuffix EffectiveTLDPlusOne); for a
//     record found at the organisational domain, sp= applies to
//     subdomains when present.
//   - pct= is honoured deterministically rather than by sampling: with
//     pct < 100 a failing message gets the next weaker policy
//     (reject → quarantine, quarantine → none), as RFC 7489 section 6.6.4
//     prescribes for messages outside the sampled percentage. The same
//     message always gets the same verdict.
//   - DNS temperror or a malformed record never rejects mail: the result is
//     temperror/permerror and the Action is Accept.
func (v *Verifier) checkDMARC(ctx context.Context, fields []headerField, spfRes SPFResult, dkimRes []DKIMResult) (DMARCResult, Action) {
	out := DMARCResult{Result: authres.ResultNone, Percent: 100}

	from, reason := fromDomain(fields)
	if from == "" {
		out.Reason = reason
		return out, Accept
	}
	out.FromDomain = from

	lookup := &dmarc.LookupOptions{LookupTXT: func(name string) ([]string, error) {
		return v.resolver.LookupTXT(ctx, name)
	}}
	recDomain := from
	rec, err := dmarc.LookupWithOptions(from, lookup)
	if errors.Is(err, dmarc.ErrNoPolicy) {
		if org := orgDomain(from); org != from {
			recDomain = org
			rec, err = dmarc.LookupWithOptions(org, lookup)
		}
	}
	switch {
	case errors.Is(err, dmarc.ErrNoPolicy):
		out.Reason = "no DMARC record"
		return out, Accept
	case dmarc.IsTempFail(err):
		out.Result = authres.ResultTempError
		out.Reason = err.Error()
		return out, Accept
	case err != nil:
		out.Result = authres.ResultPermError
		out.Reason = err.Error()
		return out, Accept
	}
	out.RecordDomain = recDomain

	out.Policy = string(rec.Policy)
	if recDomain != from && rec.SubdomainPolicy != "" {
		out.Policy = string(rec.SubdomainPolicy)
	}
	if rec.Percent != nil {
		out.Percent = *rec.Percent
	}

	if spfRes.Result == authres.ResultPass &&
		aligned(spfRes.Domain, from, rec.SPFAlignment == dmarc.AlignmentStrict) {
		out.SPFAligned = true
	}
	for _, d := range dkimRes {
		if d.Result == authres.ResultPass &&
			aligned(d.Domain, from, rec.DKIMAlignment == dmarc.AlignmentStrict) {
			out.DKIMAligned = true
			break
		}
	}
	if out.SPFAligned || out.DKIMAligned {
		out.Result = authres.ResultPass
		return out, Accept
	}

	out.Result = authres.ResultFail
	out.Reason = "no aligned SPF or DKIM pass"
	policy := out.Policy
	if out.Percent < 100 {
		switch policy {
		case string(dmarc.PolicyReject):
			policy = string(dmarc.PolicyQuarantine)
		case string(dmarc.PolicyQuarantine):
			policy = string(dmarc.PolicyNone)
		}
	}
	switch policy {
	case string(dmarc.PolicyReject):
		return out, Reject
	case string(dmarc.PolicyQuarantine):
		return out, Quarantine
	}
	return out, Accept
}

// fromDomain returns the domain of the single RFC5322.From address, or ""
// and the reason there is none.
func fromDomain(fields []headerField) (string, string) {
	var values []string
	for _, f := range fields {
		if strings.EqualFold(f.Name, "From") {
			values = append(values, f.Value)
		}
	}
	switch len(values) {
	case 0:
		return "", "no From header"
	case 1:
	default:
		return "", "multiple From headers"
	}
	// Display names in unknown charsets must not make the address
	// unparsable: only the domain matters here, so pass them through.
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
	}}
	addrs, err := p.ParseList(values[0])
	if err != nil {
		return "", "unparsable From header"
	}
	if len(addrs) != 1 {
		return "", "From header does not hold exactly one address"
	}
	d := domainOf(addrs[0].Address)
	if d == "" {
		return "", "From address has no domain"
	}
	return d, ""
}

// orgDomain returns the organisational domain (RFC 7489 section 3.2) of d:
// the public suffix plus one label. Names that are themselves public
// suffixes or otherwise unknown to the list are their own organisational
// domain.
func orgDomain(d string) string {
	d = normDomain(d)
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// aligned reports whether identifier domain id aligns with the From
// domain: equal in strict mode, same organisational domain in relaxed mode.
func aligned(id, from string, strict bool) bool {
	id, from = normDomain(id), normDomain(from)
	if id == "" || from == "" {
		return false
	}
	if id == from {
		return true
	}
	return !strict && orgDomain(id) == orgDomain(from)
}

func normDomain(d string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
}
