package main

import (
	"time"
)

// idleResult is an init with a child that sleeps: its wake-ups (context
// switches of all its threads) and its memory.
type idleResult struct {
	// Settle is the switches from the child's ready line to the start of
	// the window: startup work that is over by then.
	Settle switches `json:"settle"`
	// Window is the switches during the measured window.
	Window    switches `json:"window"`
	WindowSec float64  `json:"window_s"`
	// Memory is read at the end of the window.
	Memory memory `json:"memory"`
	Child  child  `json:"child"`
}

// measureIdle runs the four inits at once, so the window is spent once.
func measureIdle(specs []initSpec, p params) (map[string]idleResult, error) {
	runs, err := startAll(specs, "idle")
	if err != nil {
		return nil, err
	}
	defer abandon(runs)
	snap := func() ([]switches, error) {
		out := make([]switches, len(runs))
		for i, r := range runs {
			if out[i], err = readSwitches(r.pid); err != nil {
				return nil, r.fail(err)
			}
		}
		return out, nil
	}
	s0, err := snap()
	if err != nil {
		return nil, err
	}
	time.Sleep(time.Duration(p.IdleSettleSec * float64(time.Second)))
	s1, err := snap()
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	time.Sleep(time.Duration(p.IdleWindowSec * float64(time.Second)))
	s2, err := snap()
	if err != nil {
		return nil, err
	}
	window := time.Since(t1).Seconds()
	res := map[string]idleResult{}
	for i, r := range runs {
		m, err := readMemory(r.pid)
		if err != nil {
			return nil, r.fail(err)
		}
		res[r.spec.Name] = idleResult{
			Settle:    s1[i].minus(s0[i]),
			Window:    s2[i].minus(s1[i]),
			WindowSec: window,
			Memory:    m,
			Child:     r.child,
		}
	}
	return res, finishAll(runs)
}
