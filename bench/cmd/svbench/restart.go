package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"tend/bench/internal/benchkit"
)

// restartResult is crash-to-restart latency, in milliseconds, for one
// supervisor: svchild has run past startsecs, records its time and exits
// 1; the next svchild records its time as the first thing its main does.
type restartResult struct {
	// Ms is the difference of the two svchild timestamps: the old
	// process's exit, the supervisor noticing it, the fork and exec of the
	// new one and the Go runtime's start in it (the floor measures that
	// last part alone).
	Ms []float64 `json:"ms"`
	// KernelMs is from the kernel's exit event of the old process's last
	// thread to the exec event of the new one: the supervisor's part, with
	// neither process's own start or end in it.
	KernelMs []float64 `json:"kernel_ms"`
	// LifeMs is how long each old process ran.
	LifeMs []float64 `json:"life_ms"`
}

// measureRestart runs the three at once, each with one svchild that exits
// p.RestartLifeMs (plus up to a fifth) after it starts, until each has
// restarted p.RestartSamples times.
func measureRestart(t *procTree, sups []supervisor, p params) (map[string]restartResult, error) {
	ins, files, cleanup, err := launchEach(t, sups, "svbench-restart-", scenario{kind: "crash", lifeMs: p.RestartLifeMs})
	defer cleanup()
	if err != nil {
		return nil, err
	}
	// Poll the files: nothing else runs during this phase, and each line
	// carries its own time.
	deadline := time.Now().Add(time.Duration(p.RestartSamples+2) * time.Duration(p.RestartLifeMs+2000) * time.Millisecond)
	for {
		done := true
		for _, in := range ins {
			rs, err := readRecords(files[in.sup.Name])
			if err != nil {
				return nil, in.fail(t, err)
			}
			select {
			case <-in.done:
				return nil, in.fail(t, errors.New("exited"))
			default:
			}
			if len(pairs(rs)) < p.RestartSamples {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			return nil, errors.New("not enough restarts before the deadline")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := t.settle(); err != nil {
		return nil, err
	}
	res := map[string]restartResult{}
	for _, in := range ins {
		rs, _ := readRecords(files[in.sup.Name])
		tree := t.tree(in.pid)
		var r restartResult
		for _, pr := range pairs(rs)[:p.RestartSamples] {
			r.Ms = append(r.Ms, msBetween(pr.exit.ns, pr.next.ns))
			r.LifeMs = append(r.LifeMs, msBetween(pr.start.ns, pr.exit.ns))
			old, neu := findProc(tree, pr.exit), findProc(tree, pr.next)
			if old == nil || neu == nil || old.ExitNs == 0 || len(neu.ExecNs) == 0 {
				return nil, in.fail(t, fmt.Errorf("no process events for pids %d and %d", pr.exit.pid, pr.next.pid))
			}
			r.KernelMs = append(r.KernelMs, msBetween(old.ExitNs, neu.ExecNs[len(neu.ExecNs)-1]))
		}
		res[in.sup.Name] = r
	}
	return res, nil
}

// record is one line svchild wrote: "start T PID" or "exit T PID".
type record struct {
	what string
	ns   int64
	pid  int
}

func readRecords(file string) ([]record, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rs, err := parseRecords(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return rs, nil
}

// parseRecords reads svchild's lines, sorted by time.
func parseRecords(text string) ([]record, error) {
	var out []record
	for line := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue // a line being written
		}
		ns, err1 := strconv.ParseInt(f[1], 10, 64)
		pid, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad line %q", line)
		}
		out = append(out, record{f[0], ns, pid})
	}
	slices.SortFunc(out, func(a, b record) int { return cmp.Compare(a.ns, b.ns) })
	return out, nil
}

// restartPair is a run that ended and the run that followed it.
type restartPair struct{ start, exit, next record }

func pairs(rs []record) []restartPair {
	var out []restartPair
	for i := 0; i+2 < len(rs); i++ {
		a, b, c := rs[i], rs[i+1], rs[i+2]
		if a.what == "start" && b.what == "exit" && c.what == "start" && a.pid == b.pid && c.pid != b.pid {
			out = append(out, restartPair{a, b, c})
		}
	}
	return out
}

// findProc finds the record of the process that wrote r.
func findProc(tree []proc, r record) *proc {
	for i := range tree {
		p := &tree[i]
		if p.Tgid == r.pid && p.ForkNs <= r.ns && (p.ExitNs == 0 || p.ExitNs >= r.ns) {
			return p
		}
	}
	return nil
}

// measureFloor is svbench itself starting svchild: from just before the
// fork to svchild's first timestamp. A supervisor's restart cannot beat it.
func measureFloor(n int) ([]float64, error) {
	dir, err := os.MkdirTemp("", "svbench-floor-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "once")
	var out []float64
	for i := 0; i < n; i++ {
		cmd := exec.Command(childPath, "once", file)
		cmd.Stderr = os.Stderr
		t0 := benchkit.Monotonic()
		if err := cmd.Run(); err != nil {
			return nil, err
		}
		rs, err := readRecords(file)
		if err != nil || len(rs) != i+1 {
			return nil, fmt.Errorf("%s: %d records, want %d (%v)", file, len(rs), i+1, err)
		}
		out = append(out, msBetween(t0, rs[i].ns))
		time.Sleep(20 * time.Millisecond)
	}
	return out, nil
}

// launchEach starts, for each supervisor, one svchild in scenario sc,
// each writing its records to a file of its own in a new temporary
// directory (named by prefix). cleanup kills what was launched and
// removes the directory; it is to be called even on an error.
func launchEach(t *procTree, sups []supervisor, prefix string, sc scenario) (ins []*instance, files map[string]string, cleanup func(), err error) {
	files = map[string]string{}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, nil, func() {}, err
	}
	cleanup = func() {
		for _, in := range ins {
			in.kill(t)
		}
		os.RemoveAll(dir)
	}
	for _, s := range sups {
		files[s.Name] = filepath.Join(dir, s.Name+".log")
		sc.file = files[s.Name]
		in, err := launch(t, s, sc, nil)
		if err != nil {
			return ins, files, cleanup, err
		}
		ins = append(ins, in)
	}
	return ins, files, cleanup, nil
}
