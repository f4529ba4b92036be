package main

import (
	"math"
	"slices"
)

// summary describes a sample: what the report shows, and enough to judge
// the spread.
type summary struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	P99    float64 `json:"p99"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
}

func summarize(xs []float64) summary {
	if len(xs) == 0 {
		return summary{} // JSON has no NaN
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return summary{
		N:      len(s),
		Median: quantile(s, 0.5),
		P99:    quantile(s, 0.99),
		Min:    s[0],
		Max:    s[len(s)-1],
		Mean:   sum / float64(len(s)),
	}
}

// quantile of sorted s, interpolating linearly between the two nearest
// ranks (R-7, what numpy and most tools default to): the median of an
// even count is the mean of the middle two.
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
