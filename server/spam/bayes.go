package spam

import (
	"math"
	"sort"

	"mailsrv/store"
)

// The classifier is Gary Robinson's naive-Bayes variant with Fisher's
// chi-square combining, as in SpamBayes and bogofilter: robust with few
// training messages and unbalanced classes, and its result is honest
// about uncertainty (around 0.5 when the evidence disagrees).
const (
	// unknownStrength and unknownProb shrink the estimate of rarely seen
	// tokens towards "no idea" (SpamBayes' defaults).
	unknownStrength = 0.45
	unknownProb     = 0.5
	// minDeviation drops tokens that say little either way.
	minDeviation = 0.1
	// maxClues is how many of the most telling tokens are combined.
	maxClues = 150
	// MinTrained is how many spam and how many ham messages a mailbox's
	// filter needs before it decides anything.
	MinTrained = store.SpamMinTrained
)

// SpamProbability combines the per-token counts of a message into the
// probability that it is spam (0..1), given how many spam and ham
// messages were trained. ok is false while the filter knows too little.
func SpamProbability(counts []store.SpamCounts, nspam, nham uint32) (p float64, ok bool) {
	if nspam < MinTrained || nham < MinTrained {
		return 0.5, false
	}
	clues := make([]float64, 0, len(counts))
	for _, c := range counts {
		if c.Spam == 0 && c.Ham == 0 {
			continue
		}
		sr := float64(c.Spam) / float64(nspam)
		hr := float64(c.Ham) / float64(nham)
		prob := sr / (sr + hr)
		n := float64(c.Spam + c.Ham)
		prob = (unknownStrength*unknownProb + n*prob) / (unknownStrength + n)
		if math.Abs(prob-0.5) >= minDeviation {
			clues = append(clues, prob)
		}
	}
	if len(clues) == 0 {
		return 0.5, true
	}
	if len(clues) > maxClues {
		sort.Slice(clues, func(i, j int) bool { return math.Abs(clues[i]-0.5) > math.Abs(clues[j]-0.5) })
		clues = clues[:maxClues]
	}
	// Sums of logs instead of products: 150 small factors underflow.
	var lnS, lnH float64
	for _, c := range clues {
		c = math.Min(math.Max(c, 1e-6), 1-1e-6)
		lnS += math.Log(1 - c)
		lnH += math.Log(c)
	}
	n := len(clues)
	s := 1 - chi2Q(-2*lnS, 2*n)
	h := 1 - chi2Q(-2*lnH, 2*n)
	return (s - h + 1) / 2, true
}

// chi2Q is the probability that a chi-square variable with v (even)
// degrees of freedom exceeds x2.
func chi2Q(x2 float64, v int) float64 {
	m := x2 / 2
	sum := math.Exp(-m)
	term := sum
	for i := 1; i < v/2; i++ {
		term *= m / float64(i)
		sum += term
	}
	return math.Min(sum, 1)
}
