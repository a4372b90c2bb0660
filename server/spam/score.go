package spam

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-msgauth/authres"

	"mailsrv/auth/msgauth"
)

// Required is the score at which a message goes to Junk.
const Required = 5.0

// Points of each reason. Policy results alone stay below Required (an
// SPF fail of a domain without DMARC is common misconfiguration, not
// proof of spam); together with the classifier or rspamd they tip. The
// reasons that force Junk weigh twice Required, so no bonus (DMARC pass,
// known sender, classifier ham) can bring a forced message's score below
// Required and its X-Spam-Status "Yes" always agrees with its score.
const (
	pointsSPFFail         = 2.0
	pointsSPFSoftFail     = 1.0
	pointsDKIMFail        = 1.5
	pointsDMARCNone       = 0.5
	pointsDMARCFail       = 1.5 // failing a p=none policy
	pointsDMARCPass       = -1.0
	pointsDMARCQuarantine = 2 * Required
	pointsBayesSpam       = Required
	pointsBayesProbable   = 2.5
	pointsBayesHam        = -1.0
	pointsKnownSender     = -2.0
	pointsRspamdJunk      = 2 * Required
)

// reason is one named contribution to a message's score.
type reason struct {
	Name   string
	Points float64
}

// score is a list of reasons and whether one of them forces Junk.
type score struct {
	reasons []reason
	junk    bool   // forced: DMARC quarantine, rspamd "add header"
	forced  string // the reason that forced it
}

func (s *score) add(name string, points float64) {
	s.reasons = append(s.reasons, reason{name, points})
}

func (s *score) force(name string, points float64) {
	s.add(name, points)
	if !s.junk {
		s.junk, s.forced = true, name
	}
}

func (s *score) total() float64 {
	var t float64
	for _, r := range s.reasons {
		t += r.Points
	}
	return t
}

// clone returns a copy that can be extended per mailbox.
func (s score) clone() score {
	s.reasons = append([]reason(nil), s.reasons...)
	return s
}

// isJunk reports whether the message goes to Junk, and the deciding
// reason (a closed set, used as a metrics label).
func (s *score) isJunk() (bool, string) {
	if s.junk {
		return true, s.forced
	}
	if s.total() >= Required {
		return true, "score"
	}
	return false, "score"
}

// policyScore weighs the SPF, DKIM and DMARC results. Refusal of DMARC
// p=reject failures is decided by the caller; msgauth already turned a
// p=reject failure outside pct= into Quarantine.
func policyScore(res *msgauth.Result) score {
	var s score
	if res == nil {
		return s
	}
	switch res.SPF.Result {
	case authres.ResultFail:
		s.add("SPF_FAIL", pointsSPFFail)
	case authres.ResultSoftFail:
		s.add("SPF_SOFTFAIL", pointsSPFSoftFail)
	}
	pass, fail := false, false
	for _, d := range res.DKIM {
		switch d.Result {
		case authres.ResultPass:
			pass = true
		case authres.ResultFail:
			fail = true
		}
	}
	if fail && !pass {
		s.add("DKIM_FAIL", pointsDKIMFail)
	}
	switch {
	case res.DMARC.Result == authres.ResultPass:
		s.add("DMARC_PASS", pointsDMARCPass)
	case res.DMARC.Result == authres.ResultNone:
		s.add("DMARC_NONE", pointsDMARCNone)
	case res.DMARC.Result == authres.ResultFail && res.Action == msgauth.Quarantine:
		s.force("DMARC_QUARANTINE", pointsDMARCQuarantine)
	case res.DMARC.Result == authres.ResultFail:
		s.add("DMARC_FAIL", pointsDMARCFail)
	}
	return s
}

// headers renders the X-Spam-Status and X-Spam-Score fields (folded).
func (s *score) headers(junk bool) []byte {
	total := s.total()
	names := make([]string, len(s.reasons))
	for i, r := range s.reasons {
		names[i] = r.Name + "(" + formatPoints(r.Points) + ")"
	}
	yes := "No"
	if junk {
		yes = "Yes"
	}
	status := fmt.Sprintf("%s, score=%s required=%s reasons=%s", yes, formatPoints(total), formatPoints(Required), strings.Join(names, ", "))
	if len(names) == 0 {
		status = strings.TrimSuffix(status, " reasons=")
	}
	var b strings.Builder
	b.WriteString(msgauth.HeaderField("X-Spam-Status", status))
	b.WriteString(msgauth.HeaderField("X-Spam-Score", formatPoints(total)))
	return []byte(b.String())
}

func formatPoints(p float64) string { return strconv.FormatFloat(p, 'f', 1, 64) }
