package main

import "tend/bench/internal/benchkit"

// idleResult is an init with a child that sleeps: its wake-ups (context
// switches of all its threads) and its memory.
type idleResult struct {
	// Settle is the switches from the child's ready line to the start of
	// the window: startup work that is over by then.
	Settle benchkit.Switches `json:"settle"`
	// Window is the switches during the measured window.
	Window    benchkit.Switches `json:"window"`
	WindowSec float64           `json:"window_s"`
	// Memory is read at the end of the window.
	Memory benchkit.Memory `json:"memory"`
	Child  child           `json:"child"`
}

// measureIdle runs the inits, and the floors if any, all at once, so the
// window is spent once.
func measureIdle(specs []initSpec, p params) (map[string]idleResult, error) {
	runs, err := startAll(specs, "idle")
	if err != nil {
		return nil, err
	}
	defer abandon(runs)
	sw, err := benchkit.IdleWindow(len(runs), p.IdleSettleSec, p.IdleWindowSec, func(i int) (benchkit.Switches, error) {
		s, err := benchkit.ReadSwitches(runs[i].pid)
		if err != nil {
			return s, runs[i].fail(err)
		}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	res := map[string]idleResult{}
	for i, r := range runs {
		m, err := benchkit.ReadMemory(r.pid)
		if err != nil {
			return nil, r.fail(err)
		}
		res[r.spec.Name] = idleResult{
			Settle:    sw.Settle[i],
			Window:    sw.Window[i],
			WindowSec: sw.WindowSec,
			Memory:    m,
			Child:     r.child,
		}
	}
	return res, finishAll(runs)
}
