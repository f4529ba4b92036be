package main

import (
	"fmt"
	"time"

	"tend/bench/internal/benchkit"
)

// crashLoopResult is one supervisor keeping a program that crashes
// p.CrashLoopLifeMs after each start (0.3 s past the default startsecs
// of 1 s of tend and supervisord, so every run counts as up), over a
// window, each supervisor in its default configuration but for
// restarting always: tend backs off (immediate, then 1 s, 2 s, … up to
// 30 s), supervisord restarts a run that was up at once, s6 restarts at
// once a run that lasted over a second.
type crashLoopResult struct {
	WindowSec float64 `json:"window_s"`
	// StartMs is each start of the program within the window (svchild's
	// first timestamp), in ms after the supervisor's launch.
	StartMs []float64 `json:"start_ms"`
	// GapMs is, for each restart within the window, the old run's exit
	// timestamp to the new run's start.
	GapMs []float64 `json:"gap_ms"`
	// CPUMs is the CPU time of the supervising processes (the supervisor;
	// for s6 also the service's s6-supervise) from launch to the end of
	// the window.
	CPUMs float64 `json:"cpu_ms"`
}

// perMinute is the starts in the window scaled to a minute.
func (r crashLoopResult) perMinute() float64 {
	if r.WindowSec == 0 {
		return 0
	}
	return float64(len(r.StartMs)) * 60 / r.WindowSec
}

// measureCrashLoop runs the three at once for p.CrashLoopSec.
func measureCrashLoop(t *procTree, sups []supervisor, p params) (map[string]crashLoopResult, error) {
	ins, files, cleanup, err := launchEach(t, sups, "svbench-crashloop-", scenario{kind: "crashloop", lifeMs: p.CrashLoopLifeMs})
	defer cleanup()
	if err != nil {
		return nil, err
	}
	window := time.Duration(p.CrashLoopSec * float64(time.Second))
	time.Sleep(window) // the measurement is what happens in this time
	res := map[string]crashLoopResult{}
	for _, in := range ins {
		select {
		case <-in.done:
			return nil, in.fail(t, fmt.Errorf("exited during the crash loop"))
		default:
		}
		r := crashLoopResult{WindowSec: p.CrashLoopSec}
		pids := []int{in.pid}
		for _, q := range t.tree(in.pid) {
			if q.Depth > 0 && q.Depth < in.sup.Depth && q.ExitNs == 0 {
				pids = append(pids, q.Tgid)
			}
		}
		for _, pid := range pids {
			ns, err := benchkit.ReadSchedNs(pid)
			if err != nil {
				return nil, in.fail(t, fmt.Errorf("pid %d: %w", pid, err))
			}
			r.CPUMs += float64(ns) / 1e6
		}
		rs, err := readRecords(files[in.sup.Name])
		if err != nil {
			return nil, in.fail(t, err)
		}
		end := in.startNs + window.Nanoseconds()
		var lastExit int64
		for _, rec := range rs {
			if rec.ns > end {
				break
			}
			switch rec.what {
			case "start":
				r.StartMs = append(r.StartMs, msBetween(in.startNs, rec.ns))
				if lastExit != 0 {
					r.GapMs = append(r.GapMs, msBetween(lastExit, rec.ns))
				}
			case "exit":
				lastExit = rec.ns
			}
		}
		if len(r.StartMs) == 0 {
			return nil, in.fail(t, fmt.Errorf("the program never started in %v", window))
		}
		res[in.sup.Name] = r
	}
	return res, nil
}
