package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		xs          []float64
		median, p99 float64
	}{
		{[]float64{5}, 5, 5},
		{[]float64{4, 1, 3, 2}, 2.5, 3.97},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 6, 10.9},
	} {
		s := summarize(tc.xs)
		if !near(s.Median, tc.median) || !near(s.P99, tc.p99) {
			t.Errorf("summarize(%v) = median %v p99 %v, want %v %v", tc.xs, s.Median, s.P99, tc.median, tc.p99)
		}
	}
	if s := summarize(nil); s.N != 0 || s.Median != 0 {
		t.Errorf("summarize(nil) = %+v, want zeros (JSON has no NaN)", s)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func TestSplice(t *testing.T) {
	doc := "# T\n\nprose\n\n" + beginMark + "\nold table\n" + endMark + "\n\n## Findings\n"
	got, err := splice([]byte(doc), "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# T\n\nprose\n\n" + beginMark + "\n\nnew table\n\n" + endMark + "\n\n## Findings\n"
	if string(got) != want {
		t.Errorf("splice:\n%s\nwant:\n%s", got, want)
	}
	again, _ := splice(got, "new table\n")
	if string(again) != want {
		t.Errorf("splice is not idempotent:\n%s", again)
	}
	if _, err := splice([]byte("no markers"), "x"); err == nil {
		t.Error("splice without markers: no error")
	}
}

func TestParseReady(t *testing.T) {
	c, err := parseReady("ready pid=9 ppid=1 pgid=9 sid=9 orphans=10")
	if err != nil {
		t.Fatal(err)
	}
	if c.Pid != 9 || c.Ppid != 1 || c.Pgid != 9 || c.Sid != 9 || c.Extra["orphans"] != 10 {
		t.Errorf("parseReady: %+v", c)
	}
	for _, bad := range []string{"", "hello", "ready pid=x"} {
		if _, err := parseReady(bad); err == nil {
			t.Errorf("parseReady(%q): no error", bad)
		}
	}
}

func TestRatio(t *testing.T) {
	for _, tc := range []struct {
		tend, peer float64
		want       string
	}{{2, 1, "2.00"}, {0, 0, "equal (0)"}, {3, 0, "—"}, {0, 20, "0.00"}} {
		if got := ratio(tc.tend, tc.peer); !strings.EqualFold(got, tc.want) {
			t.Errorf("ratio(%v, %v) = %q, want %q", tc.tend, tc.peer, got, tc.want)
		}
	}
}
