package main

import (
	"slices"
	"testing"
	"time"
)

// TestListAt: the client acts on the newest list fetched at or before
// the time asked for, nothing before the first fetch, and forgets only
// what it can no longer need.
func TestListAt(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	c := &client{history: []snapshot{
		{at(0), []string{"a", "b"}},
		{at(50), []string{"a", "b"}},
		{at(100), []string{"a"}},
		{at(150), nil},
	}}
	for _, tc := range []struct {
		ms   int
		want []string
		kept int
	}{
		{-1, nil, 4},
		{0, []string{"a", "b"}, 4},
		{99, []string{"a", "b"}, 3},
		{100, []string{"a"}, 2},
		{149, []string{"a"}, 2},
		{500, nil, 1},
	} {
		if got := c.listAt(at(tc.ms)); !slices.Equal(got, tc.want) {
			t.Errorf("listAt(%d ms) = %q, want %q", tc.ms, got, tc.want)
		}
		if len(c.history) != tc.kept {
			t.Errorf("after listAt(%d ms): %d lists kept, want %d", tc.ms, len(c.history), tc.kept)
		}
	}
}
