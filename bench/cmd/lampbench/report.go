package main

import (
	"fmt"
	"strings"

	"tend/bench/internal/benchkit"
)

func summary(xs []sample, f func(sample) float64) benchkit.Summary {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	return benchkit.Summarize(v)
}

func render(res *results) string {
	var b strings.Builder
	p, m := res.Params, res.Machine
	fmt.Fprintf(&b, "Produced by `%s` (%s mode, %d rounds) on %s; the driver ran %.0f s.\n\n",
		res.Command, p.Mode, p.Rounds, res.Started.Format("2006-01-02 15:04 MST"), res.Seconds)
	if p.Mode != "full" {
		b.WriteString("**Quick mode: a smoke test of the harness; do not quote these numbers.**\n\n")
	}
	b.WriteString(m.Markdown(p.Nice))
	var pkgs []string
	for _, k := range packages {
		if v := m.Packages[k]; v != "" {
			pkgs = append(pkgs, k+" "+v)
		}
	}
	fmt.Fprintf(&b, "Packages (dpkg-query): %s.  \n", strings.Join(pkgs, ", "))
	fmt.Fprintf(&b, "CPU in use on the whole machine during the rounds: %.0f%%. The client polled every %d ms.\n\n", res.BusyPct["rounds"], p.PollMs)

	s := res.Samples
	row := func(label string, f func(sample) float64, both bool) {
		t, sv := summary(s["tend"], f), summary(s["supervisord"], f)
		cell := func(x benchkit.Summary) string { return fmt.Sprintf("%.0f (%.0f–%.0f)", x.Median, x.Min, x.Max) }
		if both {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", label, cell(t), cell(sv), benchkit.Ratio(t.Median, sv.Median))
		} else {
			fmt.Fprintf(&b, "| %s | %s | — | — |\n", label, cell(t))
		}
	}
	b.WriteString("| ms, median (min–max) | tend | supervisord | tend/supervisord |\n| --- | --- | --- | --- |\n")
	row("launch → first good page", func(x sample) float64 { return x.PageMs }, true)
	row("launch → tend's READY=1 (all critical programs ready and healthy)", func(x sample) float64 { return x.ReadyMs }, false)
	row("SIGTERM → supervisor exited", func(x sample) float64 { return x.StopMs }, true)
	cnt := func(name string, f func(sample) bool) int {
		n := 0
		for _, x := range s[name] {
			if f(x) {
				n++
			}
		}
		return n
	}
	fmt.Fprintf(&b, "| runs with exit code 0 | %d of %d | %d of %d | |\n",
		cnt("tend", func(x sample) bool { return x.ExitCode == 0 }), len(s["tend"]),
		cnt("supervisord", func(x sample) bool { return x.ExitCode == 0 }), len(s["supervisord"]))
	fmt.Fprintf(&b, "| runs that left an nginx, php-fpm or redis process behind | %d | %d | |\n\n",
		cnt("tend", func(x sample) bool { return len(x.Leftovers) > 0 }),
		cnt("supervisord", func(x sample) bool { return len(x.Leftovers) > 0 }))
	for _, name := range names {
		var v []string
		for _, x := range s[name] {
			v = append(v, fmt.Sprintf("%.0f", x.PageMs))
		}
		fmt.Fprintf(&b, "%s, first good page, each round (ms): %s.  \n", name, strings.Join(v, " "))
	}
	if xs := s["tend"]; len(xs) > 0 {
		fmt.Fprintf(&b, "The first good page, as the client saw it: `%s`\n", strings.TrimSpace(xs[0].Body))
	}
	return b.String()
}
