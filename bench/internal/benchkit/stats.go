package benchkit

import (
	"math"
	"slices"
)

// Summary describes a sample: what the reports show, and enough to judge
// the spread.
type Summary struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	P99    float64 `json:"p99"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
}

// Summarize summarizes xs, which it leaves as they are; an empty sample
// is all zeros.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{} // JSON has no NaN
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return Summary{
		N:      len(s),
		Median: quantile(s, 0.5),
		P99:    quantile(s, 0.99),
		Min:    s[0],
		Max:    s[len(s)-1],
		Mean:   sum / float64(len(s)),
	}
}

// quantile of sorted, non-empty s, interpolating linearly between the
// two nearest ranks (R-7, what numpy and most tools default to): the
// median of an even count is the mean of the middle two.
func quantile(s []float64, q float64) float64 {
	if len(s) == 1 {
		return s[0]
	}
	h := q * float64(len(s)-1)
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (h-lo)*(s[i+1]-s[i])
}
