package main

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"time"

	"tend/bench/internal/benchkit"
)

// lifecycleSample is one run of a supervisor with n sleeping programs,
// from its launch to its exit. Times in milliseconds.
type lifecycleSample struct {
	// SpawnMs runs from just before svbench forks the supervisor to the
	// kernel's exec event of the last of the n programs to become
	// `sleep`.
	SpawnMs float64 `json:"spawn_ms"`
	// FirstExecMs is the same to the first exec of each program: for s6,
	// the ./run script starting (it then execs sleep); for the others the
	// same as SpawnMs.
	FirstExecMs float64 `json:"first_exec_ms"`
	// RunningMs (tend only) runs to the moment svbench read tend's n-th
	// RUNNING line on its stderr.
	RunningMs float64 `json:"running_ms,omitempty"`
	// Where the start time goes: ExecMs to the supervisor's own exec
	// (svbench's fork and exec of it), FirstForkMs and LastForkMs to the
	// fork of the first and of the last program (by their parent: the
	// supervisor, or for s6 each s6-supervise).
	ExecMs      float64 `json:"exec_ms"`
	FirstForkMs float64 `json:"first_fork_ms"`
	LastForkMs  float64 `json:"last_fork_ms"`
	// StopMs runs from just before SIGTERM to the kernel's exit event of
	// the supervisor's last thread.
	StopMs float64 `json:"stop_ms"`
	// TreeGoneMs runs from SIGTERM to the exit of the last process of the
	// tree: the supervisor, its programs and, for s6, its s6-supervise
	// processes.
	TreeGoneMs float64 `json:"tree_gone_ms"`
	// ProgramsGoneMs runs from SIGTERM to the exit of the last program.
	ProgramsGoneMs float64 `json:"programs_gone_ms"`
}

// lifecycleVariant is a supervisor with a configuration.
type lifecycleVariant struct {
	Name string
	sup  supervisor
	sc   scenario
}

// privsVariant is the lifecycle variant of tend whose programs have
// rlimits and no_new_privs.
const privsVariant = "tend (rlimits+no_new_privs)"

func lifecycleVariants(sups []supervisor, n int) []lifecycleVariant {
	var vs []lifecycleVariant
	for _, s := range sups {
		vs = append(vs, lifecycleVariant{s.Name, s, scenario{kind: "sleep", n: n, startsecs0: true}})
	}
	// tend as users leave it: startsecs = 1, so RUNNING comes a second
	// after the spawn.
	vs = append(vs, lifecycleVariant{"tend (startsecs 1)", sups[0], scenario{kind: "sleep", n: n}})
	// tend with rlimits and no_new_privs on every program: the same start
	// through internal/forkexec instead of syscall.ForkExec.
	vs = append(vs, lifecycleVariant{privsVariant, sups[0], scenario{kind: "sleep", n: n, startsecs0: true, privs: true}})
	return vs
}

// measureLifecycle runs each variant p.LifecycleRuns times, the variants
// of each round in a random order, one at a time.
func measureLifecycle(t *procTree, sups []supervisor, p params) (map[string][]lifecycleSample, error) {
	vs := lifecycleVariants(sups, p.Programs)
	res := map[string][]lifecycleSample{}
	for round := 0; round < p.LifecycleRuns; round++ {
		for _, i := range rand.Perm(len(vs) + 1) {
			if i == len(vs) {
				s, err := spawnFloor(t, p.Programs)
				if err != nil {
					return nil, fmt.Errorf("spawn floor: %w", err)
				}
				fmt.Fprintf(os.Stderr, "svbench:   %-20s start %8.1f ms\n", spawnFloorName, s.SpawnMs)
				res[spawnFloorName] = append(res[spawnFloorName], s)
				continue
			}
			v := vs[i]
			var s lifecycleSample
			var err error
			for try := 0; try < 3; try++ {
				lost := t.lostEvents()
				s, err = lifecycleOnce(t, v, p)
				if err == nil && t.lostEvents() != lost {
					err = errors.New("process events were lost during the run")
					fmt.Fprintf(os.Stderr, "svbench: %s: %v; again\n", v.Name, err)
					continue
				}
				break
			}
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(os.Stderr, "svbench:   %-20s start %8.1f ms  stop %8.1f ms\n", v.Name, s.SpawnMs, s.StopMs)
			res[v.Name] = append(res[v.Name], s)
		}
	}
	return res, nil
}

func lifecycleOnce(t *procTree, v lifecycleVariant, p params) (lifecycleSample, error) {
	var s lifecycleSample
	in, err := launch(t, v.sup, v.sc, nil)
	if err != nil {
		return s, err
	}
	n := v.sc.n
	last, err := t.spawned(in.pid, v.sup.Depth, v.sup.SleepExecs, n, 60*time.Second)
	if err != nil {
		return s, in.fail(t, err)
	}
	first, _ := t.spawned(in.pid, v.sup.Depth, 1, n, time.Second)
	s.SpawnMs = msBetween(in.startNs, last)
	s.FirstExecMs = msBetween(in.startNs, first)
	s.FirstForkMs = math.Inf(1)
	for _, q := range t.tree(in.pid) {
		switch {
		case q.Tgid == in.pid && len(q.ExecNs) > 0:
			s.ExecMs = msBetween(in.startNs, q.ExecNs[0])
		case q.Depth == v.sup.Depth:
			s.FirstForkMs = min(s.FirstForkMs, msBetween(in.startNs, q.ForkNs))
			s.LastForkMs = max(s.LastForkMs, msBetween(in.startNs, q.ForkNs))
		}
	}
	if v.sup.Name == "tend" {
		ns, err := in.allRunning(30 * time.Second)
		if err != nil {
			return s, in.fail(t, err)
		}
		s.RunningMs = msBetween(in.startNs, ns)
	}
	time.Sleep(time.Duration(p.SettleSec * float64(time.Second)))
	// Every program still sleeping: none crashed or was restarted.
	progs := 0
	for _, q := range t.tree(in.pid) {
		if q.Depth == v.sup.Depth && q.ExitNs == 0 {
			if c := readComm(q.Tgid); c != "sleep" {
				return s, in.fail(t, fmt.Errorf("program %d is %q, want sleep", q.Tgid, c))
			}
			progs++
		}
	}
	if progs != n {
		return s, in.fail(t, fmt.Errorf("%d programs alive before the stop, want %d", progs, n))
	}

	kill, err := in.stop(120 * time.Second)
	if err != nil {
		return s, in.fail(t, err)
	}
	if err := t.settle(); err != nil {
		return s, in.fail(t, err)
	}
	for _, q := range t.tree(in.pid) {
		if q.ExitNs == 0 {
			return s, in.fail(t, fmt.Errorf("pid %d (%s) outlived the supervisor", q.Tgid, readComm(q.Tgid)))
		}
		ms := msBetween(kill, q.ExitNs)
		s.TreeGoneMs = max(s.TreeGoneMs, ms)
		if q.Tgid == in.pid {
			s.StopMs = ms
		}
		if q.Depth == v.sup.Depth {
			s.ProgramsGoneMs = max(s.ProgramsGoneMs, ms)
		}
	}
	in.cleanup()
	return s, nil
}

func msBetween(a, b int64) float64 { return float64(b-a) / 1e6 }

// spawnFloorName is the key of the spawn floor in the lifecycle results.
const spawnFloorName = "floor"

// spawnFloor is svbench itself starting n `sleep 3600` one after the
// other the way tend does (syscall.ForkExec, each in a new session, with
// the environment plus two variables), timed from just before the first
// fork to the exec event of the last: the cost of n Go fork+execs on this
// machine, with no supervisor around them.
func spawnFloor(t *procTree, n int) (lifecycleSample, error) {
	var s lifecycleSample
	var pids []int
	defer func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, 0, nil)
		}
	}()
	start := benchkit.Monotonic()
	for i := range n {
		env := append(os.Environ(), "TEND_PROGRAM=sleep:"+strconv.Itoa(i), "TEND_INSTANCE="+strconv.Itoa(i))
		pid, err := syscall.ForkExec(sleepPath, []string{sleepPath, "3600"}, &syscall.ProcAttr{
			Env: env, Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{Setsid: true}})
		if err != nil {
			return s, err
		}
		pids = append(pids, pid)
	}
	if err := t.settle(); err != nil {
		return s, err
	}
	s.FirstForkMs = math.Inf(1)
	for _, pid := range pids {
		q, ok := t.get(pid)
		if !ok || len(q.ExecNs) == 0 {
			return s, fmt.Errorf("no exec event for pid %d", pid)
		}
		s.SpawnMs = max(s.SpawnMs, msBetween(start, q.ExecNs[0]))
		s.FirstForkMs = min(s.FirstForkMs, msBetween(start, q.ForkNs))
		s.LastForkMs = max(s.LastForkMs, msBetween(start, q.ForkNs))
	}
	s.FirstExecMs = s.SpawnMs
	return s, nil
}
