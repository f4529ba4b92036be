package main

import (
	"fmt"
	"strings"

	"tend/bench/internal/benchkit"
)

func render(res *results) string {
	var b strings.Builder
	names := make([]string, len(res.Inits))
	for i, s := range res.Inits {
		names[i] = s.Name
	}
	tend, peers := names[0], names[1:]
	each := func(f func(name string) float64) map[string]float64 { return benchkit.Each(names, f) }
	eachSummary := func(f func(name string) benchkit.Summary) map[string]benchkit.Summary { return benchkit.Each(names, f) }
	eachText := func(f func(name string) string) map[string]string { return benchkit.Each(names, f) }
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
	b.WriteString(res.Machine.Markdown(p.Nice))
	b.WriteString("Peers (dpkg-query): ")
	var pkgs []string
	for _, k := range packages {
		pkgs = append(pkgs, fmt.Sprintf("%s %s", k, res.Machine.Packages[k]))
	}
	b.WriteString(strings.Join(pkgs, ", ") + ".\n\n")

	rows := []benchkit.Row{
		benchkit.TextRow("command under `unshare --pid --fork --mount-proc`", eachText(func(n string) string {
			return "`" + strings.Join(append([]string{n}, specOf(res, n).Prefix...), " ") + " CMD`"
		})),
		benchkit.TextRow("forwards a signal to (default flags)", eachText(func(n string) string { return specOf(res, n).Forwards })),
		benchkit.TextRow("child pid / pgid / ppid, inside the namespace", eachText(func(n string) string {
			c := res.Signal[n].Child
			return fmt.Sprintf("%d / %d / %d", c.Pid, c.Pgid, c.Ppid)
		})),
		benchkit.NumRow(fmt.Sprintf("`INIT -- /bin/true`, start to exit, median (ms); bare `/bin/true` as PID 1: %.2f ms", bareMs), "%.2f",
			each(func(n string) float64 { return su.Ms[n].Median })),
		benchkit.NumRow("overhead over bare `/bin/true`, median (ms)", "%.2f",
			each(func(n string) float64 { return su.Ms[n].Median - bareMs })),
		benchkit.NumRow(fmt.Sprintf("same by hyperfine, median (ms); bare: %.2f ms", bareHf), "%.2f",
			each(func(n string) float64 { return su.Hyperfine[n].Median })),
		benchkit.NumRow("hyperfine: overhead over bare, median (ms)", "%.2f",
			each(func(n string) float64 { return su.Hyperfine[n].Median - bareHf })),
		benchkit.NumRow("VmRSS, child asleep (KiB)", "%.0f",
			each(func(n string) float64 { return float64(res.Idle[n].Memory.VmRSS) })),
		benchkit.NumRow("RssAnon: memory of its own (KiB)", "%.0f",
			each(func(n string) float64 { return float64(res.Idle[n].Memory.RssAnon) })),
		benchkit.NumRow("RssFile: mapped pages of its executable and libraries (KiB)", "%.0f",
			each(func(n string) float64 { return float64(res.Idle[n].Memory.RssFile) })),
		benchkit.NumRow("Pss from smaps_rollup (KiB)", "%.0f",
			each(func(n string) float64 { return float64(res.Idle[n].Memory.Pss) })),
		benchkit.NumRow("threads", "%.0f",
			each(func(n string) float64 { return float64(res.Idle[n].Window.Threads) })),
		benchkit.NumRow("binary size (KiB)", "%.0f",
			each(func(n string) float64 { return float64(sizes[n].Bytes) / 1024 })),
		benchkit.TextRow("linkage", eachText(func(n string) string { return linkage(sizes[n]) })),
		benchkit.NumRow("SIGUSR1 forwarding latency, median (µs)", "%.1f",
			each(func(n string) float64 { return res.Signal[n].Us.Median })),
		benchkit.NumRow("SIGUSR1 forwarding latency, p99 (µs)", "%.1f",
			each(func(n string) float64 { return res.Signal[n].Us.P99 })),
		benchkit.NumRow("SIGTERM forwarding latency, median (µs)", "%.1f",
			each(func(n string) float64 { return res.Term[n].Us.Median })),
		benchkit.NumRow("SIGTERM forwarding latency, p99 (µs)", "%.1f",
			each(func(n string) float64 { return res.Term[n].Us.P99 })),
		benchkit.NumRow("init context switches per forwarded signal", "%.1f",
			each(func(n string) float64 { return res.Signal[n].SwitchesPerSignal })),
		benchkit.SpreadRow(fmt.Sprintf("zombie burst: %d zombies passed to the init at once; until all reaped, median (min–max), ms", p.Orphans), "%.0f",
			eachSummary(func(n string) benchkit.Summary { return res.ReapZombies[n].WallMs })),
		benchkit.NumRow("zombie burst: init CPU, utime+stime from stat, median (ms)", "%.0f",
			each(func(n string) float64 { return res.ReapZombies[n].CPUStatMs.Median })),
		benchkit.SpreadRow("zombie burst: init CPU, schedstat, median (min–max), ms", "%.0f",
			eachSummary(func(n string) benchkit.Summary { return res.ReapZombies[n].CPUSchedMs })),
		benchkit.NumRow("zombie burst: init context switches, median", "%.0f",
			each(func(n string) float64 { return res.ReapZombies[n].Switches.Median })),
		benchkit.SpreadRow(fmt.Sprintf("exit storm: %d live orphans exit at once; until all reaped, median (min–max), ms", p.Orphans), "%.0f",
			eachSummary(func(n string) benchkit.Summary { return res.ReapLive[n].WallMs })),
		benchkit.NumRow("exit storm: init CPU, utime+stime from stat, median (ms)", "%.0f",
			each(func(n string) float64 { return res.ReapLive[n].CPUStatMs.Median })),
		benchkit.SpreadRow("exit storm: init CPU, schedstat, median (min–max), ms", "%.0f",
			eachSummary(func(n string) benchkit.Summary { return res.ReapLive[n].CPUSchedMs })),
		benchkit.NumRow("exit storm: init context switches, median", "%.0f",
			each(func(n string) float64 { return res.ReapLive[n].Switches.Median })),
		benchkit.NumRow("exit storm: peak zombies (sampled runs, median)", "%.0f",
			each(func(n string) float64 { return res.ReapLive[n].PeakZombies.Median })),
		benchkit.NumRow(fmt.Sprintf("idle: context switches in %.0f s, all threads", window), "%.0f",
			each(func(n string) float64 { return float64(res.Idle[n].Window.Total()) })),
		benchkit.NumRow(fmt.Sprintf("idle: context switches in the %.1f s settle after start", p.IdleSettleSec), "%.0f",
			each(func(n string) float64 { return float64(res.Idle[n].Settle.Total()) })),
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
		fmt.Fprintf(&b, "| %s |", r.Label)
		for _, n := range names {
			fmt.Fprintf(&b, " %s |", r.Cells[n])
		}
		for _, n := range peers {
			if r.Nums == nil {
				b.WriteString(" |")
				continue
			}
			fmt.Fprintf(&b, " %s |", benchkit.Ratio(r.Nums[tend], r.Nums[n]))
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
			benchkit.Ratio(float64(sizes[tend].Bytes), float64(bin.Bytes)))
	}

	renderFloors(&b, res, sizes)

	b.WriteString("\nTargets:\n\n| target | tend | tini | met? |\n|---|--:|--:|---|\n")
	ti := "tini"
	idleT, idleP := res.Idle[tend].Window.Total(), res.Idle[ti].Window.Total()
	target := func(name, tv, pv string, ok bool) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, tv, pv, benchkit.Yes(ok))
	}
	target(fmt.Sprintf("0 idle context switches in %.0f s", window), fmt.Sprint(idleT), fmt.Sprint(idleP), idleT == 0)
	for _, q := range []struct {
		name string
		f    func(benchkit.Summary) float64
	}{{"median", func(s benchkit.Summary) float64 { return s.Median }}, {"p99", func(s benchkit.Summary) float64 { return s.P99 }}} {
		for _, sg := range []struct {
			name string
			res  map[string]latency
		}{{"SIGUSR1", res.Signal}, {"SIGTERM", res.Term}} {
			tv, pv := q.f(sg.res[tend].Us), q.f(sg.res[ti].Us)
			target(sg.name+" forwarding latency "+q.name+" ≤ tini's (µs)", fmt.Sprintf("%.1f", tv), fmt.Sprintf("%.1f", pv), tv <= pv)
		}
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
	if n := len(res.Floors); n > 0 {
		f := res.Floors[n-1] // the one that links the most (floorsFlag)
		m, t := res.Idle[f.Name].Memory, res.Idle[tend].Memory
		side := "within"
		if m.VmRSS > 3072 {
			side = "over"
		}
		fmt.Fprintf(&b, "\nThe floor under that target: `%s`, an init in Go that does an init's work and no more, linking %s, "+
			"holds %d KiB as PID 1 (RssAnon %d, RssFile %d): %s the 3072 KiB of the target with none of tend's own code. "+
			"tend holds %d KiB more than it (RssAnon %+d, RssFile %+d).\n",
			f.Name, floorLinks(f.Tags), m.VmRSS, m.RssAnon, m.RssFile, side,
			t.VmRSS-m.VmRSS, t.RssAnon-m.RssAnon, t.RssFile-m.RssFile)
	}
	return b.String()
}

// floorLinks says what a floor built with tags links, beyond the Go
// runtime, os/signal, syscall and fmt (bench/cmd/initfloor).
func floorLinks(tags string) string {
	switch tags {
	case "":
		return "nothing more"
	case "floor_zerolog":
		return "zerolog, JSON (`--log-format json`)"
	case "floor_zerolog,floor_console":
		return "zerolog and its ConsoleWriter (the default format)"
	case "floor_zerolog,floor_console,floor_toml":
		return "zerolog with its ConsoleWriter, and BurntSushi/toml: the two libraries SPEC names"
	}
	return "tags " + tags
}

// renderFloors writes the memory of the floors beside tend's and tini's:
// how much of tend's RSS any Go init holds.
func renderFloors(b *strings.Builder, res *results, sizes map[string]binary) {
	if len(res.Floors) == 0 {
		return
	}
	b.WriteString("\nMemory floor: `bench/cmd/initfloor` does only what an init must (fork the child in its own " +
		"process group, forward signals to the group, reap with `wait4`, exit with the child's code), in Go. " +
		"Each build ran as PID 1 with the same child, in the same idle window as the inits above:\n\n")
	b.WriteString("| process | links, beyond the Go runtime, os/signal, syscall, fmt | binary (KiB) | VmRSS (KiB) | RssAnon (KiB) | RssFile (KiB) | threads | idle context switches |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|\n")
	row := func(name, links string) {
		r := res.Idle[name]
		fmt.Fprintf(b, "| %s | %s | %.0f | %d | %d | %d | %d | %d |\n", name, links, float64(sizes[name].Bytes)/1024,
			r.Memory.VmRSS, r.Memory.RssAnon, r.Memory.RssFile, r.Window.Threads, r.Window.Total())
	}
	for _, f := range res.Floors {
		row(f.Name, floorLinks(f.Tags))
	}
	row(res.Inits[0].Name, "everything: supervisor, TOML, control socket, metrics, health checks")
	row("tini", "(C, for scale)")
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
