package benchkit

import (
	"math"
	"slices"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestQuantile(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    []float64 // sorted
		q    float64
		want float64
	}{
		{"one value, median", []float64{5}, 0.5, 5},
		{"one value, p99", []float64{5}, 0.99, 5},
		{"odd count, median is the middle", []float64{1, 2, 3}, 0.5, 2},
		{"even count, median is the mean of the middle two", []float64{1, 2, 3, 4}, 0.5, 2.5},
		{"even count, median of unequal gaps", []float64{1, 2, 10, 20}, 0.5, 6},
		{"min", []float64{1, 2, 3, 4}, 0, 1},
		{"max", []float64{1, 2, 3, 4}, 1, 4},
		{"p25 on a rank", []float64{10, 20, 30, 40, 50}, 0.25, 20},
		{"p90 between ranks", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9, 9.1},
		{"p99 of four", []float64{1, 2, 3, 4}, 0.99, 3.97},
		{"p99 of 101 is the 100th", seq(101), 0.99, 100},
		{"p99 of 11", seq(11), 0.99, 10.9},
		{"ties", []float64{7, 7, 7, 7}, 0.99, 7},
	} {
		if got := quantile(tc.s, tc.q); !near(got, tc.want) {
			t.Errorf("%s: quantile(%v, %v) = %v, want %v", tc.name, tc.s, tc.q, got, tc.want)
		}
	}
}

// seq is 1, 2, ..., n.
func seq(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = float64(i + 1)
	}
	return s
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		xs   []float64
		want Summary
	}{
		{"one", []float64{5}, Summary{N: 1, Median: 5, P99: 5, Min: 5, Max: 5, Mean: 5}},
		{"unsorted, even count", []float64{4, 1, 3, 2}, Summary{N: 4, Median: 2.5, P99: 3.97, Min: 1, Max: 4, Mean: 2.5}},
		{"odd count", seq(11), Summary{N: 11, Median: 6, P99: 10.9, Min: 1, Max: 11, Mean: 6}},
		{"an outlier moves the mean and p99, not the median", []float64{1, 1, 1, 1, 100},
			Summary{N: 5, Median: 1, P99: 96.04, Min: 1, Max: 100, Mean: 20.8}},
		{"negative", []float64{-3, -1, -2}, Summary{N: 3, Median: -2, P99: -1.02, Min: -3, Max: -1, Mean: -2}},
	} {
		in := slices.Clone(tc.xs)
		got := Summarize(in)
		if got.N != tc.want.N || !near(got.Median, tc.want.Median) || !near(got.P99, tc.want.P99) ||
			!near(got.Min, tc.want.Min) || !near(got.Max, tc.want.Max) || !near(got.Mean, tc.want.Mean) {
			t.Errorf("%s: Summarize(%v) = %+v, want %+v", tc.name, tc.xs, got, tc.want)
		}
		if !slices.Equal(in, tc.xs) {
			t.Errorf("%s: Summarize sorted its argument: %v", tc.name, in)
		}
	}
	for _, xs := range [][]float64{nil, {}} {
		if s := Summarize(xs); s != (Summary{}) {
			t.Errorf("Summarize(%v) = %+v, want zeros (JSON has no NaN)", xs, s)
		}
	}
}
