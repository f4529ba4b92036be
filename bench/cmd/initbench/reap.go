package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"tend/bench/internal/benchkit"
)

// reapRun is one init reaping N orphans.
type reapRun struct {
	// WallMs runs from the release to the first look that finds every
	// orphan reaped.
	WallMs float64 `json:"wall_ms"`
	// CPUStatMs is the init's utime+stime over the same span, from
	// /proc/PID/stat (10 ms resolution); CPUSchedMs is the same from
	// schedstat, to the nanosecond.
	CPUStatMs  float64 `json:"cpu_stat_ms"`
	CPUSchedMs float64 `json:"cpu_sched_ms"`
	// Sampled runs read every process's state in a loop: PeakZombies is
	// the most zombies one pass saw, Scans the passes made. The scanning
	// costs a CPU, so timed runs (which look up one pid a millisecond)
	// give the wall and CPU figures.
	Sampled     bool `json:"sampled"`
	PeakZombies int  `json:"peak_zombies,omitempty"`
	Scans       int  `json:"scans,omitempty"`
	// Switches is the init's context switches (all threads) over the span.
	Switches int64 `json:"switches"`
}

// The two reaping scenarios: the benchmark child's orphans modes.
const (
	// zombieBurst: N zombies under a middle process; it exits and the
	// init inherits them all at once. The init's reaping alone: nothing
	// else is left to run.
	zombieBurst = "zombie"
	// exitStorm: N live orphans of the init wake up and exit at the same
	// time. The init reaps while N processes compete with it for the CPU
	// and while wait4 has N live children to look through.
	exitStorm = "live"
)

type reapResult struct {
	Scenario    string           `json:"scenario"`
	Orphans     int              `json:"orphans"`
	Runs        []reapRun        `json:"runs"`
	WallMs      benchkit.Summary `json:"wall_ms"`
	CPUStatMs   benchkit.Summary `json:"cpu_stat_ms"`
	CPUSchedMs  benchkit.Summary `json:"cpu_sched_ms"`
	Switches    benchkit.Summary `json:"switches"`
	PeakZombies benchkit.Summary `json:"peak_zombies"`
	Child       child            `json:"child"`
}

// pollEvery is how often a timed run looks whether the next orphan is gone.
const pollEvery = time.Millisecond

// measureReap runs a scenario: timed runs, then (if sampled > 0) runs
// that sample the zombie count, each pass over the inits in a random
// order.
func measureReap(specs []initSpec, p params, scenario string, timed, sampled int) (map[string]reapResult, error) {
	res := map[string]reapResult{}
	for pass := range timed + sampled {
		for _, i := range rand.Perm(len(specs)) {
			s := specs[i]
			run, c, err := reapOnce(s, p.Orphans, scenario, pass >= timed)
			if err != nil {
				return nil, err
			}
			r := res[s.Name]
			r.Scenario, r.Orphans, r.Child = scenario, p.Orphans, c
			r.Runs = append(r.Runs, run)
			res[s.Name] = r
		}
	}
	for name, r := range res {
		var wall, cs, cc, sw, peak []float64
		for _, run := range r.Runs {
			if run.Sampled {
				peak = append(peak, float64(run.PeakZombies))
				continue
			}
			wall = append(wall, run.WallMs)
			cs = append(cs, run.CPUStatMs)
			cc = append(cc, run.CPUSchedMs)
			sw = append(sw, float64(run.Switches))
		}
		r.WallMs, r.CPUStatMs, r.CPUSchedMs = benchkit.Summarize(wall), benchkit.Summarize(cs), benchkit.Summarize(cc)
		r.Switches, r.PeakZombies = benchkit.Summarize(sw), benchkit.Summarize(peak)
		res[name] = r
	}
	return res, nil
}

func reapOnce(s initSpec, n int, scenario string, sampled bool) (reapRun, child, error) {
	run := reapRun{Sampled: sampled}
	r, err := start(s, "orphans", strconv.Itoa(n), scenario)
	if err != nil {
		return run, child{}, err
	}
	defer abandon([]*running{r})
	ns, err := openNSProc(r.pid)
	if err != nil {
		return run, r.child, r.fail(err)
	}
	defer ns.close()
	orphans, err := checkOrphans(ns, n, scenario, r.child.Pid)
	if err != nil {
		return run, r.child, r.fail(err)
	}
	cpu0, err := readCPU(r.pid)
	if err != nil {
		return run, r.child, r.fail(err)
	}
	sw0, err := benchkit.ReadSwitches(r.pid)
	if err != nil {
		return run, r.child, r.fail(err)
	}
	t0 := time.Now()
	if _, err := r.stdin.WriteString("release\n"); err != nil {
		return run, r.child, r.fail(err)
	}
	if sampled {
		err = sampleZombies(ns, &run)
	} else {
		err = awaitGone(ns, orphans)
	}
	if err != nil {
		return run, r.child, r.fail(err)
	}
	run.WallMs = ms(time.Since(t0))
	// Let the init finish the turn of its loop that reaped the last one.
	time.Sleep(20 * time.Millisecond)
	cpu1, err := readCPU(r.pid)
	if err != nil {
		return run, r.child, r.fail(err)
	}
	sw1, err := benchkit.ReadSwitches(r.pid)
	if err != nil {
		return run, r.child, r.fail(err)
	}
	run.CPUStatMs = float64(cpu1.StatTicks-cpu0.StatTicks) * 1000 / userHZ
	run.CPUSchedMs = float64(cpu1.SchedNs-cpu0.SchedNs) / 1e6
	run.Switches = sw1.Minus(sw0).Total()
	return run, r.child, r.finish()
}

// awaitGone returns once every pid in orphans has been reaped. It looks
// up one pid at a time, in order, and moves on when it is gone: a few
// microseconds a look, where listing ten thousand pids takes
// milliseconds of CPU the init would have to share. Nothing forks during
// the wait, so no pid is reused.
func awaitGone(ns *nsProc, orphans []int) error {
	deadline := time.Now().Add(time.Minute)
	for i := 0; i < len(orphans); {
		if !ns.exists(orphans[i]) {
			i++
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d orphans still unreaped after a minute", len(orphans)-i, len(orphans))
		}
		time.Sleep(pollEvery)
	}
	return nil
}

// sampleZombies reads the state of every process in the namespace, pass
// after pass, until only the init and its child are left, and records the
// most zombies a pass saw.
func sampleZombies(ns *nsProc, run *reapRun) error {
	deadline := time.Now().Add(time.Minute)
	for {
		left, zombies := 0, 0
		err := ns.walk(func(pid int) {
			left++
			if ns.state(pid) == 'Z' {
				zombies++
			}
		})
		if err != nil {
			return err
		}
		run.Scans++
		run.PeakZombies = max(run.PeakZombies, zombies)
		if left <= 2 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d processes still unreaped after a minute", left-2)
		}
	}
}

// checkOrphans makes sure the namespace holds what the scenario promises
// before the release, and returns the orphans' pids: the init, its child
// and n live orphans; or the init, its child, the middle process and n
// zombies (its children may still be on their way out: wait for them).
func checkOrphans(ns *nsProc, n int, scenario string, childPid int) ([]int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var live, zombies []int
		err := ns.walk(func(pid int) {
			switch {
			case pid == 1 || pid == childPid:
			case ns.state(pid) == 'Z':
				zombies = append(zombies, pid)
			default:
				live = append(live, pid)
			}
		})
		switch {
		case err != nil:
			return nil, err
		case scenario == exitStorm && len(live) == n && len(zombies) == 0:
			return live, nil
		case scenario == zombieBurst && len(live) == 1 && len(zombies) == n:
			return zombies, nil
		case time.Now().After(deadline):
			return nil, fmt.Errorf("%s: namespace holds %d live processes and %d zombies besides the init and its child",
				scenario, len(live), len(zombies))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
