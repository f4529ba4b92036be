package main

import (
	"fmt"
	"time"

	"tend/bench/internal/benchkit"
)

// idleResult is a supervisor with n programs asleep: its wake-ups and its
// memory. For s6, "scanner" is s6-svscan alone and the totals add the n
// s6-supervise processes; for the others the one process is all of it.
type idleResult struct {
	// Settle and Window are context switches summed over every thread
	// of every supervising process: from the n-th program's spawn to the
	// start of the window, and during the window.
	Settle    benchkit.Switches `json:"settle"`
	Window    benchkit.Switches `json:"window"`
	WindowSec float64           `json:"window_s"`
	// Scanner is the memory of the supervisor process itself; Total is
	// the sum over its supervising processes (VmRSS counts shared pages
	// once per process; Pss shares them out).
	Scanner   benchkit.Memory `json:"scanner"`
	Total     benchkit.Memory `json:"total"`
	Processes int             `json:"processes"`
	Threads   int             `json:"threads"`
}

// measureIdle runs the three at once, each with n programs in its default
// configuration (startsecs 1 for tend and supervisord), so the window is
// spent once.
func measureIdle(t *procTree, sups []supervisor, p params) (map[string]idleResult, error) {
	var ins []*instance
	defer func() {
		for _, in := range ins {
			in.kill(t)
		}
	}()
	for _, s := range sups {
		in, err := launch(t, s, scenario{kind: "sleep", n: p.Programs}, nil)
		if err != nil {
			return nil, err
		}
		ins = append(ins, in)
		if _, err := t.spawned(in.pid, s.Depth, s.SleepExecs, p.Programs, 60*time.Second); err != nil {
			return nil, in.fail(t, err)
		}
	}
	// The supervising processes: the supervisor and, for s6, every
	// s6-supervise (the programs' parents).
	pids := make([][]int, len(ins))
	for i, in := range ins {
		pids[i] = []int{in.pid}
		for _, q := range t.tree(in.pid) {
			if q.Depth > 0 && q.Depth < in.sup.Depth && q.ExitNs == 0 {
				pids[i] = append(pids[i], q.Tgid)
			}
		}
	}
	sw, err := benchkit.IdleWindow(len(ins), p.IdleSettleSec, p.IdleWindowSec, func(i int) (benchkit.Switches, error) {
		var sum benchkit.Switches
		for _, pid := range pids[i] {
			s, err := benchkit.ReadSwitches(pid)
			if err != nil {
				return sum, ins[i].fail(t, fmt.Errorf("pid %d: %w", pid, err))
			}
			sum = sum.Plus(s)
		}
		return sum, nil
	})
	if err != nil {
		return nil, err
	}
	res := map[string]idleResult{}
	for i, in := range ins {
		r := idleResult{Settle: sw.Settle[i], Window: sw.Window[i], WindowSec: sw.WindowSec,
			Processes: len(pids[i]), Threads: sw.Window[i].Threads}
		for j, pid := range pids[i] {
			m, err := benchkit.ReadMemory(pid)
			if err != nil {
				return nil, in.fail(t, err)
			}
			if j == 0 {
				r.Scanner = m
			}
			r.Total.VmRSS += m.VmRSS
			r.Total.Rss += m.Rss
			r.Total.Pss += m.Pss
		}
		res[in.sup.Name] = r
	}
	return res, nil
}
