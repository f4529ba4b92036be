package main

import (
	"fmt"
	"strings"

	"tend/bench/internal/benchkit"
)

// names of the three, in column order; tend first.
var names = []string{"tend", "supervisord", "s6"}

// ratio is tend/peer for a row with numbers, and nothing for a row of
// words.
func ratio(r benchkit.Row, peer string) string {
	if r.Nums == nil {
		return ""
	}
	return benchkit.Ratio(r.Nums["tend"], r.Nums[peer])
}

// both is the verdict of a target judged two ways: by medians and by the
// best runs.
func both(median, best bool) string {
	switch {
	case median && best:
		return "yes"
	case !median && !best:
		return "**no**"
	case best:
		return "**no** by medians, yes by best runs"
	}
	return "yes by medians, **no** by best runs"
}

func pick(xs []lifecycleSample, f func(lifecycleSample) float64) benchkit.Summary {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	return benchkit.Summarize(v)
}

// privsRatio is the median start of tend with rlimits and no_new_privs
// over the median start of tend without; false for results that lack
// the variant.
func privsRatio(lc map[string][]lifecycleSample) (float64, bool) {
	spawn := func(s lifecycleSample) float64 { return s.SpawnMs }
	with, without := pick(lc[privsVariant], spawn), pick(lc["tend"], spawn)
	if len(lc[privsVariant]) == 0 || without.Median == 0 {
		return 0, false
	}
	return with.Median / without.Median, true
}

// privsCell is the privileges variant's start, and its ratio.
func privsCell(lc map[string][]lifecycleSample) string {
	ratio, ok := privsRatio(lc)
	if !ok {
		return "—"
	}
	s := pick(lc[privsVariant], func(s lifecycleSample) float64 { return s.SpawnMs })
	return fmt.Sprintf("%.1f (%.1f–%.1f); ×%.2f", s.Median, s.Min, s.Max, ratio)
}

func render(res *results) string {
	var b strings.Builder
	p, m := res.Params, res.Machine
	n := p.Programs
	fmt.Fprintf(&b, "Produced by `%s` (%s mode) on %s; the driver ran %.0f s.\n\n",
		res.Command, p.Mode, res.Started.Format("2006-01-02 15:04 MST"), res.Seconds)
	if p.Mode != "full" {
		b.WriteString("**Quick mode: a smoke test of the harness with small counts; do not quote these numbers.**\n\n")
	}
	b.WriteString(m.Markdown(p.Nice))
	b.WriteString("Peers and tools (dpkg-query): ")
	var pkgs []string
	for _, k := range packages {
		if v := m.Packages[k]; v != "" {
			pkgs = append(pkgs, fmt.Sprintf("%s %s", k, v))
		}
	}
	b.WriteString(strings.Join(pkgs, ", ") + ".  \n")
	if len(res.BusyPct) > 0 {
		b.WriteString("CPU in use on the whole machine during each step (every process, the run's own included; " +
			"in the idle and restart steps the run itself uses next to nothing): ")
		var parts []string
		for _, k := range []string{"start and stop", "idle wake-ups and memory", "output throughput", "restart floor", "crash-to-restart latency", "crash loop", "time to ready"} {
			if _, ok := res.BusyPct[k]; !ok {
				continue // a results file from before the step existed
			}
			parts = append(parts, fmt.Sprintf("%s %.0f%%", k, res.BusyPct[k]))
		}
		b.WriteString(strings.Join(parts, ", ") + ".  \n")
	}
	b.WriteString("All three run on the host, each as a direct child of the driver (not as PID 1); tend makes itself a subreaper.\n\n")

	lc := res.Lifecycle
	med := func(name string, f func(lifecycleSample) float64) benchkit.Summary { return pick(lc[name], f) }
	spreadF := func(label, format string, f func(lifecycleSample) float64) benchkit.Row {
		return benchkit.SpreadRow(label, format, benchkit.Each(names, func(k string) benchkit.Summary { return med(k, f) }))
	}
	spread := func(label string, f func(lifecycleSample) float64) benchkit.Row { return spreadF(label, "%.1f", f) }
	text := func(label string, cells ...string) benchkit.Row {
		m := map[string]string{}
		for i, k := range names {
			m[k] = cells[i]
		}
		return benchkit.TextRow(label, m)
	}
	num := func(label, format string, f func(string) float64) benchkit.Row {
		return benchkit.NumRow(label, format, benchkit.Each(names, f))
	}
	restart := func(f func(restartResult) []float64, q func(benchkit.Summary) float64) func(string) float64 {
		return func(k string) float64 { return q(benchkit.Summarize(f(res.Restart[k]))) }
	}
	medQ := func(s benchkit.Summary) float64 { return s.Median }
	p99Q := func(s benchkit.Summary) float64 { return s.P99 }
	progMs := func(r restartResult) []float64 { return r.Ms }
	kernMs := func(r restartResult) []float64 { return r.KernelMs }
	idle := res.Idle
	window := idle["tend"].WindowSec
	t1 := lc["tend (startsecs 1)"]

	rows := []benchkit.Row{
		text("command (DIR: a fresh directory per run)", "`tend --log-format json -c DIR/tend.toml`",
			"`supervisord -c DIR/supervisord.conf` (nodaemon=true)", "`s6-svscan DIR/scan`"),
		text(fmt.Sprintf("the %d programs", n), fmt.Sprintf("`instances = %d`, exec form, `startsecs = 0`", n),
			fmt.Sprintf("`numprocs=%d`, `startsecs=0`", n),
			fmt.Sprintf("%d service dirs; `run` is `#!/bin/sh` + `exec sleep 3600`", n)),
		spread(fmt.Sprintf("**start %d**: launch → the last program has exec'd `sleep`, median (min–max), ms", n),
			func(s lifecycleSample) float64 { return s.SpawnMs }),
		spread("start: launch → the last program's first exec (s6: its `./run` shell), median (min–max), ms",
			func(s lifecycleSample) float64 { return s.FirstExecMs }),
		spread("start: launch → the supervisor's own exec, median (min–max), ms",
			func(s lifecycleSample) float64 { return s.ExecMs }),
		spread("start: launch → the first program's fork, median (min–max), ms",
			func(s lifecycleSample) float64 { return s.FirstForkMs }),
		spreadF(fmt.Sprintf("start: first program's fork → the last's, ÷ %d: per program, median (min–max), ms", n-1), "%.2f",
			func(s lifecycleSample) float64 { return (s.LastForkMs - s.FirstForkMs) / float64(n-1) }),
		text(fmt.Sprintf("tend: launch → %d RUNNING lines read from its log, median (ms)", n),
			fmt.Sprintf("%.1f", med("tend", func(s lifecycleSample) float64 { return s.RunningMs }).Median), "", ""),
		text("tend with its default `startsecs = 1`: spawned / all RUNNING, median (ms)",
			fmt.Sprintf("%.1f / %.1f", pick(t1, func(s lifecycleSample) float64 { return s.SpawnMs }).Median,
				pick(t1, func(s lifecycleSample) float64 { return s.RunningMs }).Median), "", ""),
		text(fmt.Sprintf("tend, each program with `%s`: start %d, median (min–max), ms; × tend without them",
			strings.ReplaceAll(strings.TrimSpace(privsKeys), "\n", "`, `"), n), privsCell(lc), "", ""),
		spread(fmt.Sprintf("**stop %d**: SIGTERM → the supervisor has exited, median (min–max), ms", n),
			func(s lifecycleSample) float64 { return s.StopMs }),
		spread("stop: SIGTERM → the last program has exited, median (min–max), ms",
			func(s lifecycleSample) float64 { return s.ProgramsGoneMs }),
		spread("stop: SIGTERM → the last process of the tree has exited, median (min–max), ms",
			func(s lifecycleSample) float64 { return s.TreeGoneMs }),
		text("tend with `startsecs = 1`: stop, median (ms)",
			fmt.Sprintf("%.1f", pick(t1, func(s lifecycleSample) float64 { return s.StopMs }).Median), "", ""),
		num(fmt.Sprintf("**VmRSS** of the supervisor process, %d programs running (s6: s6-svscan alone), KiB", n), "%.0f",
			func(k string) float64 { return float64(idle[k].Scanner.VmRSS) }),
		num("Pss of the supervisor process (smaps_rollup), KiB", "%.0f",
			func(k string) float64 { return float64(idle[k].Scanner.Pss) }),
		num(fmt.Sprintf("VmRSS summed over the supervising processes (s6: s6-svscan + %d s6-supervise), KiB", n), "%.0f",
			func(k string) float64 { return float64(idle[k].Total.VmRSS) }),
		num("Pss summed over the supervising processes, KiB", "%.0f",
			func(k string) float64 { return float64(idle[k].Total.Pss) }),
		text("supervising processes / threads",
			fmt.Sprintf("%d / %d", idle["tend"].Processes, idle["tend"].Threads),
			fmt.Sprintf("%d / %d", idle["supervisord"].Processes, idle["supervisord"].Threads),
			fmt.Sprintf("%d / %d", idle["s6"].Processes, idle["s6"].Threads)),
		num(fmt.Sprintf("**idle**: context switches in %.0f s, all threads of the supervising processes, all three running at once", window), "%.0f",
			func(k string) float64 { return float64(idle[k].Window.Total()) }),
		num(fmt.Sprintf("idle: context switches in the %.1f s settle before the window", p.IdleSettleSec), "%.0f",
			func(k string) float64 { return float64(idle[k].Settle.Total()) }),
		num("**restart**: old program's last timestamp → new program's first, median (ms)", "%.2f", restart(progMs, medQ)),
		num("restart, same, p99 (ms)", "%.2f", restart(progMs, p99Q)),
		num("restart: kernel exit event of the old process → exec event of the new, median (ms)", "%.2f", restart(kernMs, medQ)),
		num("restart: kernel exit → exec, p99 (ms)", "%.2f", restart(kernMs, p99Q)),
		num("restart: how long each run lasted before its exit, median (ms)", "%.0f",
			restart(func(r restartResult) []float64 { return r.LifeMs }, medQ)),
	}
	b.WriteString("| metric | tend | supervisord | s6 | tend/supervisord | tend/s6 |\n|---|--:|--:|--:|--:|--:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.Label, r.Cells["tend"], r.Cells["supervisord"], r.Cells["s6"],
			ratio(r, "supervisord"), ratio(r, "s6"))
	}
	if fl := lc[spawnFloorName]; len(fl) > 0 {
		sp := pick(fl, func(s lifecycleSample) float64 { return s.SpawnMs })
		gap := pick(fl, func(s lifecycleSample) float64 { return (s.LastForkMs - s.FirstForkMs) / float64(n-1) })
		fmt.Fprintf(&b, "\nSpawn floor: the driver itself starting %d `sleep 3600` one after the other as tend does "+
			"(Go's `syscall.ForkExec`, each in a new session), from before the first fork to the last exec: "+
			"median %.1f ms (%.1f–%.1f), %.2f ms per program between forks (%d runs, interleaved with the above).\n",
			n, sp.Median, sp.Min, sp.Max, gap.Median, sp.N)
	}
	floor := benchkit.Summarize(res.FloorMs)
	fmt.Fprintf(&b, "\nRestart floor: the driver itself forking and exec'ing svchild, to svchild's first timestamp: "+
		"median %.2f ms, p99 %.2f ms (%d samples). A supervisor's restart includes this much.\n\n", floor.Median, floor.P99, floor.N)
	fmt.Fprintf(&b, "Samples: %d start-and-stop runs per variant (variants in a random order each round, one at a time, %.1f s between the last spawn and SIGTERM); "+
		"one %.0f s idle window with all three running %d programs each in their default configuration "+
		"(startsecs 1), memory read at its end; %d restarts per supervisor, all three at once; %d output runs per path.\n\n",
		p.LifecycleRuns, p.SettleSec, window, n, len(res.Restart["tend"].Ms), p.LogRuns)

	// Output throughput.
	logs := res.Logs
	lmed := func(k string) benchkit.Summary {
		v := make([]float64, len(logs[k]))
		for i, s := range logs[k] {
			v[i] = s.MBps
		}
		return benchkit.Summarize(v)
	}
	base, direct := lmed(logCat).Median, lmed(logDirect).Median
	var size int64
	if len(logs[logCat]) > 0 {
		size = logs[logCat][0].Bytes
	}
	fmt.Fprintf(&b, "Output throughput: svchild writes %.0f MiB of 100-byte lines (writes of 655 lines, 65,500 bytes) to its stdout; "+
		"MB/s is 10^6 bytes per second of svchild's own writing, first write to last return:\n\n", float64(size)/(1<<20))
	b.WriteString("| path of svchild's stdout | MB/s, median (min–max) | × baseline (`svchild \\| cat`) | × svchild > /dev/null | svchild's CPU, median (ms) | copier's CPU (cat, or the supervisor), median (ms) |\n|---|--:|--:|--:|--:|--:|\n")
	labels := map[string]string{
		logDirect:      "svchild > /dev/null, no supervisor",
		logCat:         "**baseline**: svchild \\| cat > /dev/null",
		logCatSetsid:   "the same, svchild in a session of its own (`setsid`), as tend and s6 start programs",
		logCatCat:      "`setsid svchild \\| cat \\| cat > /dev/null`: a copier that only copies, the least any supervisor's copying costs",
		logTendInherit: "tend, `stdout = \"inherit\"`, tend's stdout /dev/null",
		logTendInhCat:  "tend, `stdout = \"inherit\"`, tend's stdout a pipe to cat > /dev/null",
		logTendPrefix:  "tend, `stdout = \"prefix\"`, tend's stdout /dev/null",
		logTendPreCat:  "**tend, `stdout = \"prefix\"`**, tend's stdout a pipe to cat > /dev/null",
		logTendCount:   "tend, `stdout = \"prefix\"`, tend's stdout a pipe the driver reads, counting every line and byte (checked)",
		logTendFile:    "tend, `stdout = \"FILE\"` (rotated at 10 MiB, 5 backups)",
		logTendJSON:    "tend, `stdout = \"json\"`, tend's stdout /dev/null",
		logTendJSONCat: "**tend, `stdout = \"json\"`**, tend's stdout a pipe to cat > /dev/null",
		logSupervisord: "supervisord, `stdout_logfile=/dev/stdout` (maxbytes 0), its stdout /dev/null",
		logSupFile:     "supervisord, `stdout_logfile=FILE` (rotated at 50 MB, 10 backups)",
		logS6:          "s6: the service inherits s6-svscan's stdout (/dev/null)",
	}
	cpuMed := func(k string, f func(logSample) float64) string {
		v := make([]float64, len(logs[k]))
		for i, s := range logs[k] {
			v[i] = f(s)
		}
		if med := benchkit.Summarize(v).Median; med > 0 {
			return fmt.Sprintf("%.0f", med)
		}
		return "—"
	}
	for _, k := range logPaths {
		s := lmed(k)
		fmt.Fprintf(&b, "| %s | %.0f (%.0f–%.0f) | %.2f | %.2f | %s | %s |\n", labels[k], s.Median, s.Min, s.Max, s.Median/base, s.Median/direct,
			cpuMed(k, func(s logSample) float64 { return s.WriterCPUMs }), cpuMed(k, func(s logSample) float64 { return s.CopierCPUMs }))
	}

	renderCrashLoop(&b, res)
	renderReady(&b, res)

	// Targets.
	sp := med("tend", func(s lifecycleSample) float64 { return s.SpawnMs }).Median
	st := med("tend", func(s lifecycleSample) float64 { return s.StopMs }).Median
	rss := idle["tend"].Scanner.VmRSS
	wake := idle["tend"].Window.Total()
	inh, pre := lmed(logTendInherit), lmed(logTendPrefix)
	rs := benchkit.Summarize(res.Restart["tend"].Ms)
	b.WriteString("\nTargets:\n\n| target | tend | supervisord | s6 | met by tend? |\n|---|--:|--:|--:|---|\n")
	tgt := func(name, format string, f func(string) float64, ok bool) {
		fmt.Fprintf(&b, "| %s | "+format+" | "+format+" | "+format+" | %s |\n", name, f("tend"), f("supervisord"), f("s6"), benchkit.Yes(ok))
	}
	tgt(fmt.Sprintf("start %d ≤ 50 ms (median, ms)", n), "%.1f",
		func(k string) float64 { return med(k, func(s lifecycleSample) float64 { return s.SpawnMs }).Median }, sp <= 50)
	if ratio, ok := privsRatio(lc); ok {
		fmt.Fprintf(&b, "| start %d with rlimits + no_new_privs ≤ 1.1× start %d without (median over median) | %.2f | — | — | %s |\n",
			n, n, ratio, benchkit.Yes(ratio <= 1.1))
	}
	tgt(fmt.Sprintf("stop %d ≤ 50 ms (median, ms)", n), "%.1f",
		func(k string) float64 { return med(k, func(s lifecycleSample) float64 { return s.StopMs }).Median }, st <= 50)
	tgt(fmt.Sprintf("RSS ≤ 10 MiB = 10240 KiB with %d programs (VmRSS; s6: svscan + supervise)", n), "%.0f",
		func(k string) float64 { return float64(idle[k].Total.VmRSS) }, rss <= 10240)
	tgt(fmt.Sprintf("0 idle wake-ups (context switches in %.0f s)", window), "%.0f",
		func(k string) float64 { return float64(idle[k].Window.Total()) }, wake == 0)
	// A GiB to /dev/null takes a few milliseconds, so the median of a few
	// runs measures the machine's hiccups more than the path: the best
	// run of each is the better estimate of what the path itself costs.
	bestDirect, bestBase := lmed(logDirect).Max, lmed(logCat).Max
	fmt.Fprintf(&b, "| `inherit` at 1.0× of svchild > /dev/null (within 5%%), best run over best run (median over median) | %.2f (%.2f) | — | %.2f (%.2f) | %s |\n",
		inh.Max/bestDirect, inh.Median/direct, lmed(logS6).Max/bestDirect, lmed(logS6).Median/direct, benchkit.Yes(inh.Max/bestDirect >= 0.95))
	ic, sc := lmed(logTendInhCat), lmed(logCatSetsid)
	fmt.Fprintf(&b, "| (not a target) `inherit`, tend's stdout a pipe to cat, over svchild \\| cat, best (median); over `setsid svchild \\| cat`, best (median) | %.2f (%.2f); %.2f (%.2f) | — | — | tend's CPU over the run: %s ms |\n",
		ic.Max/bestBase, ic.Median/base, ic.Max/sc.Max, ic.Median/sc.Median,
		cpuMed(logTendInhCat, func(s logSample) float64 { return s.CopierCPUMs }))
	// prefix and json are judged with tend's stdout a pipe that cat
	// drains, as a container's stdout is read: to /dev/null, a write
	// costs nothing and nobody waits.
	sd := lmed(logSupervisord)
	pc, jc, cc := lmed(logTendPreCat), lmed(logTendJSONCat), lmed(logCatCat)
	fmt.Fprintf(&b, "| `prefix` ≥ 0.7× of svchild \\| cat, tend's stdout a pipe to cat, median over median (best over best); supervisord: `/dev/stdout` to /dev/null | %.2f (%.2f) | %.2f (%.2f) | — | %s |\n",
		pc.Median/base, pc.Max/bestBase, sd.Median/base, sd.Max/bestBase, both(pc.Median/base >= 0.7, pc.Max/bestBase >= 0.7))
	fmt.Fprintf(&b, "| `json` ≥ 0.7× of svchild \\| cat, tend's stdout a pipe to cat, median over median (best over best) | %.2f (%.2f) | — | — | %s |\n",
		jc.Median/base, jc.Max/bestBase, both(jc.Median/base >= 0.7, jc.Max/bestBase >= 0.7))
	fmt.Fprintf(&b, "| (not a target) the same over `svchild \\| cat \\| cat`, a copier that only copies, median (best): prefix; json | %.2f (%.2f); %.2f (%.2f) | — | — | `prefix` to /dev/null: %.2f× of svchild \\| cat |\n",
		pc.Median/cc.Median, pc.Max/cc.Max, jc.Median/cc.Median, jc.Max/cc.Max, pre.Median/base)
	tgt("restart ≤ 5 ms (median, ms)", "%.2f", restart(progMs, medQ), rs.Median <= 5)
	tgt("restart ≤ 5 ms (p99, ms)", "%.2f", restart(progMs, p99Q), rs.P99 <= 5)
	if res.LostEvents > 0 {
		fmt.Fprintf(&b, "\nThe process-events socket overflowed %d times during the run; samples that saw an overflow were taken again.\n", res.LostEvents)
	}
	return b.String()
}

// renderCrashLoop writes the crash-loop table: how often each restarts a
// program that crashes 0.3 s after startsecs, each in its default
// configuration but for restarting always.
func renderCrashLoop(b *strings.Builder, res *results) {
	cl := res.CrashLoop
	if len(cl) == 0 {
		return
	}
	w := cl["tend"].WindowSec
	life := float64(res.Params.CrashLoopLifeMs) / 1000
	fmt.Fprintf(b, "\nCrash loop: `svchild crashloop` exits 1 exactly %.1f s after each start, 0.3 s past the default `startsecs` "+
		"of tend and supervisord (1 s), so every run counts as up; the three run at once for %.0f s, each in its default "+
		"configuration but for restarting always (tend: `autorestart = \"always\"`, default `backoff`; supervisord: "+
		"`autorestart=true`; s6: as it is). Starts are svchild's own timestamps.", life, w)
	if w < 60 {
		fmt.Fprintf(b, " **The window is %.0f s: per minute is extrapolated (× %.1f)**, and tend's ladder is still climbing in it.", w, 60/w)
	}
	b.WriteString("\n\n| metric | tend | supervisord | s6 | tend/supervisord | tend/s6 |\n|---|--:|--:|--:|--:|--:|\n")
	gap := func(q func(benchkit.Summary) float64) func(string) float64 {
		return func(k string) float64 { return q(benchkit.Summarize(cl[k].GapMs)) }
	}
	rows := []benchkit.Row{
		benchkit.NumRow(fmt.Sprintf("**starts in %.0f s** (the first included)", w), "%.0f",
			benchkit.Each(names, func(k string) float64 { return float64(len(cl[k].StartMs)) })),
		benchkit.NumRow("starts per minute", "%.1f", benchkit.Each(names, func(k string) float64 { return cl[k].perMinute() })),
		benchkit.NumRow("exit → next start, median (ms)", "%.0f", benchkit.Each(names, gap(func(s benchkit.Summary) float64 { return s.Median }))),
		benchkit.NumRow("exit → next start, the longest (ms)", "%.0f", benchkit.Each(names, gap(func(s benchkit.Summary) float64 { return s.Max }))),
		benchkit.NumRow(fmt.Sprintf("CPU of the supervising processes, launch to the end of the %.0f s (ms)", w), "%.0f",
			benchkit.Each(names, func(k string) float64 { return cl[k].CPUMs })),
	}
	for _, r := range rows {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", r.Label, r.Cells["tend"], r.Cells["supervisord"], r.Cells["s6"],
			ratio(r, "supervisord"), ratio(r, "s6"))
	}
	// Past the ladder's climb, tend starts the program once per
	// backoff.max plus its run; the others as fast as the runs end. The
	// defaults: initial 1 s, factor 2, max 30 s.
	n := 2 // the crash whose wait is initial
	for d := 1.0; d < 30; d *= 2 {
		n++
	}
	fmt.Fprintf(b, "\nFrom its %dth crash on, tend waits `max` (30 s by default) and starts this program every %.1f s + %.1f s, "+
		"%.1f times a minute (computed, not measured); supervisord and s6 go on at the rate above.\n",
		n, 30.0, life, 60/(30+life))
}
