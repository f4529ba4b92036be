package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The generated block of docs/benchmarks.md lies between these lines;
// everything around it is prose that initbench leaves alone.
const (
	beginMark = "<!-- BEGIN initbench: generated from bench/out/results-full.json by bench/cmd/initbench; do not edit by hand -->"
	endMark   = "<!-- END initbench -->"
)

// report writes OUT/results-MODE.md and, if doc is set, the generated block of
// doc.
func report(res *results, out, doc string) error {
	md := render(res)
	if err := os.WriteFile(filepath.Join(out, "results-"+res.Params.Mode+".md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	if doc == "" {
		return nil
	}
	old, err := os.ReadFile(doc)
	if err != nil {
		return err
	}
	b, err := splice(old, md)
	if err != nil {
		return fmt.Errorf("%s: %w", doc, err)
	}
	return os.WriteFile(doc, b, 0o644)
}

// splice replaces what lies between the markers of doc with md.
func splice(doc []byte, md string) ([]byte, error) {
	i := bytes.Index(doc, []byte(beginMark))
	j := bytes.Index(doc, []byte(endMark))
	if i < 0 || j < i {
		return nil, errors.New("no generated block: add the BEGIN and END initbench marker lines")
	}
	var b bytes.Buffer
	b.Write(doc[:i+len(beginMark)])
	b.WriteString("\n\n")
	b.WriteString(md)
	b.WriteString("\n")
	b.Write(doc[j:])
	return b.Bytes(), nil
}

// row is one metric: a cell per init and, for numbers, the ratios
// tend/peer.
type row struct {
	label string
	cells map[string]string
	nums  map[string]float64 // nil: no ratios
}

func numRow(label string, format string, vals map[string]float64) row {
	r := row{label: label, cells: map[string]string{}, nums: vals}
	for k, v := range vals {
		r.cells[k] = fmt.Sprintf(format, v)
	}
	return r
}

// spreadRow shows each median with the range of its runs, for metrics
// with a few runs that vary a lot; ratios use the medians.
func spreadRow(label string, format string, vals map[string]summary) row {
	r := row{label: label, cells: map[string]string{}, nums: map[string]float64{}}
	for k, v := range vals {
		r.nums[k] = v.Median
		r.cells[k] = fmt.Sprintf(format+" ("+format+"–"+format+")", v.Median, v.Min, v.Max)
	}
	return r
}

func textRow(label string, cells map[string]string) row {
	return row{label: label, cells: cells}
}

// ratio is tend/peer, or a word when a ratio would mislead.
func ratio(tend, peer float64) string {
	switch {
	case tend == 0 && peer == 0:
		return "equal (0)"
	case peer == 0:
		return "—"
	}
	return fmt.Sprintf("%.2f", tend/peer)
}

func render(res *results) string {
	var b strings.Builder
	names := make([]string, len(res.Inits))
	for i, s := range res.Inits {
		names[i] = s.Name
	}
	tend, peers := names[0], names[1:]
	each := func(f func(name string) float64) map[string]float64 {
		m := map[string]float64{}
		for _, n := range names {
			m[n] = f(n)
		}
		return m
	}
	eachSummary := func(f func(name string) summary) map[string]summary {
		m := map[string]summary{}
		for _, n := range names {
			m[n] = f(n)
		}
		return m
	}
	eachText := func(f func(name string) string) map[string]string {
		m := map[string]string{}
		for _, n := range names {
			m[n] = f(n)
		}
		return m
	}
	p, su := res.Params, res.Startup
	bareMs, bareHf := su.Ms[bare].Median, su.Hyperfine[bare].Median
	window := res.Idle[tend].WindowSec
	sizes := map[string]binary{}
	for _, bin := range res.Binaries {
		sizes[bin.Name] = bin
	}

	fmt.Fprintf(&b, "Produced by `%s` (%s mode) on %s in %.0f s.\n\n",
		res.Command, p.Mode, res.Started.Format("2006-01-02 15:04 MST"), res.Seconds)
	if p.Mode != "full" {
		b.WriteString("**Quick mode: a smoke test of the harness with a few iterations of each measurement; do not quote these numbers.**\n\n")
	}
	m := res.Machine
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), Linux %s, %s.  \n", m.CPUs, m.CPUModel, m.Kernel, m.Go)
	fmt.Fprintf(&b, "Before the run: %.0f%% of CPU in use, load average %s. Every process of the run at nice %d; sched_autogroup %s.  \n",
		m.BusyPct, m.LoadAvg, p.Nice, onOff(m.Autogroup))
	fmt.Fprintf(&b, "tend: %s.  \nPeers (dpkg-query): ", m.Tend)
	var pkgs []string
	for _, k := range []string{"tini", "dumb-init", "catatonit", "hyperfine", "util-linux"} {
		pkgs = append(pkgs, fmt.Sprintf("%s %s", k, m.Packages[k]))
	}
	b.WriteString(strings.Join(pkgs, ", ") + ".\n\n")

	rows := []row{
		textRow("command under `unshare --pid --fork --mount-proc`", eachText(func(n string) string {
			return "`" + strings.Join(append([]string{n}, specOf(res, n).Prefix...), " ") + " CMD`"
		})),
		textRow("forwards a signal to (default flags)", eachText(func(n string) string { return specOf(res, n).Forwards })),
		textRow("child pid / pgid / ppid, inside the namespace", eachText(func(n string) string {
			c := res.Signal[n].Child
			return fmt.Sprintf("%d / %d / %d", c.Pid, c.Pgid, c.Ppid)
		})),
		numRow(fmt.Sprintf("`INIT -- /bin/true`, start to exit, median (ms); bare `/bin/true` as PID 1: %.2f ms", bareMs), "%.2f",
			each(func(n string) float64 { return su.Ms[n].Median })),
		numRow("overhead over bare `/bin/true`, median (ms)", "%.2f",
			each(func(n string) float64 { return su.Ms[n].Median - bareMs })),
		numRow(fmt.Sprintf("same by hyperfine, median (ms); bare: %.2f ms", bareHf), "%.2f",
			each(func(n string) float64 { return su.Hyperfine[n].Median })),
		numRow("hyperfine: overhead over bare, median (ms)", "%.2f",
			each(func(n string) float64 { return su.Hyperfine[n].Median - bareHf })),
		numRow("VmRSS, child asleep (KiB)", "%.0f",
			each(func(n string) float64 { return float64(res.Idle[n].Memory.VmRSS) })),
		numRow("Pss from smaps_rollup (KiB)", "%.0f",
			each(func(n string) float64 { return float64(res.Idle[n].Memory.Pss) })),
		numRow("threads", "%.0f",
			each(func(n string) float64 { return float64(res.Idle[n].Window.Threads) })),
		numRow("binary size (KiB)", "%.0f",
			each(func(n string) float64 { return float64(sizes[n].Bytes) / 1024 })),
		textRow("linkage", eachText(func(n string) string { return linkage(sizes[n]) })),
		numRow("SIGUSR1 forwarding latency, median (µs)", "%.1f",
			each(func(n string) float64 { return res.Signal[n].Us.Median })),
		numRow("SIGUSR1 forwarding latency, p99 (µs)", "%.1f",
			each(func(n string) float64 { return res.Signal[n].Us.P99 })),
		numRow("init context switches per forwarded signal", "%.1f",
			each(func(n string) float64 { return res.Signal[n].SwitchesPerSignal })),
		spreadRow(fmt.Sprintf("zombie burst: %d zombies passed to the init at once; until all reaped, median (min–max), ms", p.Orphans), "%.0f",
			eachSummary(func(n string) summary { return res.ReapZombies[n].WallMs })),
		numRow("zombie burst: init CPU, utime+stime from stat, median (ms)", "%.0f",
			each(func(n string) float64 { return res.ReapZombies[n].CPUStatMs.Median })),
		spreadRow("zombie burst: init CPU, schedstat, median (min–max), ms", "%.0f",
			eachSummary(func(n string) summary { return res.ReapZombies[n].CPUSchedMs })),
		numRow("zombie burst: init context switches, median", "%.0f",
			each(func(n string) float64 { return res.ReapZombies[n].Switches.Median })),
		spreadRow(fmt.Sprintf("exit storm: %d live orphans exit at once; until all reaped, median (min–max), ms", p.Orphans), "%.0f",
			eachSummary(func(n string) summary { return res.ReapLive[n].WallMs })),
		numRow("exit storm: init CPU, utime+stime from stat, median (ms)", "%.0f",
			each(func(n string) float64 { return res.ReapLive[n].CPUStatMs.Median })),
		spreadRow("exit storm: init CPU, schedstat, median (min–max), ms", "%.0f",
			eachSummary(func(n string) summary { return res.ReapLive[n].CPUSchedMs })),
		numRow("exit storm: init context switches, median", "%.0f",
			each(func(n string) float64 { return res.ReapLive[n].Switches.Median })),
		numRow("exit storm: peak zombies (sampled runs, median)", "%.0f",
			each(func(n string) float64 { return res.ReapLive[n].PeakZombies.Median })),
		numRow(fmt.Sprintf("idle: context switches in %.0f s, all threads", window), "%.0f",
			each(func(n string) float64 { return float64(res.Idle[n].Window.total()) })),
		numRow(fmt.Sprintf("idle: context switches in the %.1f s settle after start", p.IdleSettleSec), "%.0f",
			each(func(n string) float64 { return float64(res.Idle[n].Settle.total()) })),
	}
	b.WriteString("| metric |")
	for _, n := range names {
		fmt.Fprintf(&b, " %s |", n)
	}
	for _, n := range peers {
		fmt.Fprintf(&b, " %s/%s |", tend, n)
	}
	b.WriteString("\n|---|" + strings.Repeat("--:|", 2*len(names)-1) + "\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s |", r.label)
		for _, n := range names {
			fmt.Fprintf(&b, " %s |", r.cells[n])
		}
		for _, n := range peers {
			if r.nums == nil {
				b.WriteString(" |")
				continue
			}
			fmt.Fprintf(&b, " %s |", ratio(r.nums[tend], r.nums[n]))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nSamples: %d interleaved rounds of startup (hyperfine: %d runs each), %d signals per init, "+
		"%d timed zombie-burst runs, %d timed and %d sampled exit-storm runs per init, "+
		"one %.0f s idle window with all four running.\n\n",
		p.StartupRuns, p.HyperfineRuns, p.SignalSamples, p.ReapBurstRuns, p.ReapStormRuns, p.ReapSampleRuns, window)

	b.WriteString("Binary sizes (on disk; a dynamic binary also maps its shared libraries, not counted here):\n\n")
	b.WriteString("| binary | linkage | size (KiB) | tend/this |\n|---|---|--:|--:|\n")
	for _, bin := range res.Binaries {
		fmt.Fprintf(&b, "| `%s` | %s | %.0f | %s |\n", bin.Path, linkage(bin), float64(bin.Bytes)/1024,
			ratio(float64(sizes[tend].Bytes), float64(bin.Bytes)))
	}

	b.WriteString("\nTargets:\n\n| target | tend | tini | met? |\n|---|--:|--:|---|\n")
	ti := "tini"
	idleT, idleP := res.Idle[tend].Window.total(), res.Idle[ti].Window.total()
	target := func(name, tv, pv string, ok bool) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, tv, pv, yes(ok))
	}
	target(fmt.Sprintf("0 idle context switches in %.0f s", window), fmt.Sprint(idleT), fmt.Sprint(idleP), idleT == 0)
	for _, q := range []struct {
		name string
		f    func(summary) float64
	}{{"median", func(s summary) float64 { return s.Median }}, {"p99", func(s summary) float64 { return s.P99 }}} {
		tv, pv := q.f(res.Signal[tend].Us), q.f(res.Signal[ti].Us)
		target("forwarding latency "+q.name+" ≤ tini's (µs)", fmt.Sprintf("%.1f", tv), fmt.Sprintf("%.1f", pv), tv <= pv)
	}
	for _, sc := range []struct {
		name string
		res  map[string]reapResult
	}{{"zombie burst", res.ReapZombies}, {"exit storm", res.ReapLive}} {
		tc, pc := sc.res[tend].CPUSchedMs.Median, sc.res[ti].CPUSchedMs.Median
		target("reaping CPU ≤ tini's, "+sc.name+" (schedstat, ms)", fmt.Sprintf("%.1f", tc), fmt.Sprintf("%.1f", pc), tc <= pc)
		tw, pw := sc.res[tend].WallMs.Median, sc.res[ti].WallMs.Median
		target("reaping wall time ≤ tini's, "+sc.name+" (ms)", fmt.Sprintf("%.0f", tw), fmt.Sprintf("%.0f", pw), tw <= pw)
	}
	rss := res.Idle[tend].Memory.VmRSS
	target("RSS ≤ 3 MiB = 3072 KiB (VmRSS)", fmt.Sprint(rss), fmt.Sprint(res.Idle[ti].Memory.VmRSS), rss <= 3072)
	return b.String()
}

func specOf(res *results, name string) initSpec {
	for _, s := range res.Inits {
		if s.Name == name {
			return s
		}
	}
	return initSpec{}
}

func linkage(b binary) string {
	if b.Static {
		return "static"
	}
	if len(b.Needed) > 0 {
		return "dynamic (" + strings.Join(b.Needed, ", ") + ")"
	}
	return "dynamic"
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
