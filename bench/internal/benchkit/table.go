package benchkit

import "fmt"

// Row is one metric of a report's table: a cell per contender and, for
// numbers, the values behind the ratios tend/peer.
type Row struct {
	Label string
	Cells map[string]string
	Nums  map[string]float64 // nil: no ratios
}

// Each maps every name to f(name): the values of one row.
func Each[T any](names []string, f func(name string) T) map[string]T {
	m := make(map[string]T, len(names))
	for _, n := range names {
		m[n] = f(n)
	}
	return m
}

// NumRow shows each value in format.
func NumRow(label, format string, vals map[string]float64) Row {
	r := Row{Label: label, Cells: map[string]string{}, Nums: vals}
	for k, v := range vals {
		r.Cells[k] = fmt.Sprintf(format, v)
	}
	return r
}

// SpreadRow shows each median with the range of its runs, for metrics
// with a few runs that vary a lot; ratios use the medians.
func SpreadRow(label, format string, vals map[string]Summary) Row {
	r := Row{Label: label, Cells: map[string]string{}, Nums: map[string]float64{}}
	for k, v := range vals {
		r.Nums[k] = v.Median
		r.Cells[k] = fmt.Sprintf(format+" ("+format+"–"+format+")", v.Median, v.Min, v.Max)
	}
	return r
}

// TextRow is a row of words, with no ratios.
func TextRow(label string, cells map[string]string) Row {
	return Row{Label: label, Cells: cells}
}

// Ratio is tend/peer, or a word when a ratio would mislead.
func Ratio(tend, peer float64) string {
	switch {
	case tend == 0 && peer == 0:
		return "equal (0)"
	case peer == 0:
		return "—"
	}
	return fmt.Sprintf("%.2f", tend/peer)
}

// Yes is a target's verdict: met, or not in bold.
func Yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
