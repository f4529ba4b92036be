package benchkit

import "testing"

func TestRatio(t *testing.T) {
	for _, tc := range []struct {
		tend, peer float64
		want       string
	}{{2, 1, "2.00"}, {0, 0, "equal (0)"}, {3, 0, "—"}, {0, 20, "0.00"}, {1, 3, "0.33"}} {
		if got := Ratio(tc.tend, tc.peer); got != tc.want {
			t.Errorf("Ratio(%v, %v) = %q, want %q", tc.tend, tc.peer, got, tc.want)
		}
	}
}

func TestRows(t *testing.T) {
	names := []string{"tend", "peer"}
	n := NumRow("n", "%.1f", Each(names, func(k string) float64 { return float64(len(k)) }))
	if n.Cells["tend"] != "4.0" || n.Cells["peer"] != "4.0" || n.Nums["tend"] != 4 {
		t.Errorf("NumRow: %+v", n)
	}
	s := SpreadRow("s", "%.0f", map[string]Summary{"tend": {Median: 2, Min: 1, Max: 3}})
	if s.Cells["tend"] != "2 (1–3)" || s.Nums["tend"] != 2 {
		t.Errorf("SpreadRow: %+v", s)
	}
	if r := TextRow("t", map[string]string{"tend": "x"}); r.Nums != nil || r.Cells["tend"] != "x" {
		t.Errorf("TextRow: %+v", r)
	}
}
