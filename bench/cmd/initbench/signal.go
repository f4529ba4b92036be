package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"tend/bench/internal/benchkit"
)

// latency is how long a signal (SIGUSR1, or SIGTERM: an init may take
// another path for the stop signal) takes from this program's kill(2) on the
// init to the moment the child's read(2) on a signalfd returns, both read
// from CLOCK_MONOTONIC: the init's forwarding plus the kernel's two
// deliveries and wake-ups.
type latency struct {
	Us        benchkit.Summary `json:"us"`
	SamplesUs []float64        `json:"samples_us"`
	// SwitchesPerSignal is the init's context switches (all threads)
	// over the whole phase, per signal sent to it.
	SwitchesPerSignal float64 `json:"switches_per_signal"`
	// Child is where the child ran: its own process group (pgid == pid),
	// a direct child of PID 1.
	Child child `json:"child"`
}

func measureSignals(specs []initSpec, p params, sig syscall.Signal) (map[string]latency, error) {
	runs, err := startAll(specs, "signals")
	if err != nil {
		return nil, err
	}
	defer abandon(runs)
	samples := make([][]float64, len(runs))
	sw0 := make([]benchkit.Switches, len(runs))
	for i, r := range runs {
		if sw0[i], err = benchkit.ReadSwitches(r.pid); err != nil {
			return nil, r.fail(err)
		}
	}
	gap := time.Duration(p.SignalGapUs) * time.Microsecond
	for round := -p.SignalWarmup; round < p.SignalSamples; round++ {
		// One signal to each init per round, in a random order; the
		// gap lets every init (and the Go runtime's spinning threads)
		// go back to sleep, so each sample times a wake-up from idle.
		time.Sleep(gap)
		for _, i := range rand.Perm(len(runs)) {
			d, err := pingOnce(runs[i], sig)
			if err != nil {
				return nil, runs[i].fail(err)
			}
			if round >= 0 {
				samples[i] = append(samples[i], d)
			}
		}
	}
	res := map[string]latency{}
	for i, r := range runs {
		sw, err := benchkit.ReadSwitches(r.pid)
		if err != nil {
			return nil, r.fail(err)
		}
		res[r.spec.Name] = latency{
			Us:                benchkit.Summarize(samples[i]),
			SamplesUs:         samples[i],
			SwitchesPerSignal: float64(sw.Minus(sw0[i]).Total()) / float64(p.SignalWarmup+p.SignalSamples),
			Child:             r.child,
		}
	}
	return res, finishAll(runs)
}

// pingOnce sends sig to the init and returns the microseconds until its
// child saw it.
func pingOnce(r *running, sig syscall.Signal) (float64, error) {
	sent := benchkit.Monotonic()
	if err := unix.Kill(r.pid, sig); err != nil {
		return 0, err
	}
	line, err := r.readLine(5 * time.Second)
	if err != nil {
		return 0, fmt.Errorf("no %v reached the child: %w", sig, err)
	}
	got, err := strconv.ParseInt(line, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("child said %q, want a time", line)
	}
	return float64(got-sent) / 1e3, nil
}
