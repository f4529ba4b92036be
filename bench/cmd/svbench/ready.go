package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"tend/bench/internal/benchkit"
)

// Time to ready: a chain of p.ReadyLevels programs, each depending on the
// one before, each ready p.ReadyMs after it starts (svchild ready). tend
// with ready = "notify" starts a level when the one before says READY=1;
// tend as it was before readiness (no ready key) waits out each level's
// startsecs (1 s by default); s6 has no dependencies of its own (s6-rc
// does): each level's ./run waits with s6-svwait -U for the level before
// to be up and ready by its notification-fd. supervisord has neither
// readiness nor dependencies, and is left out.

// The variants, in the table's order.
const (
	readyTend      = "tend"
	readyStartsecs = "tend, no ready (startsecs 1)"
	readyS6        = "s6"
)

var readyVariants = []string{readyTend, readyStartsecs, readyS6}

// readySample is one launch of a chain.
type readySample struct {
	// LastStartMs is launch → the last level's svchild started (its first
	// timestamp): the supervisor acted on the level before being ready.
	LastStartMs float64 `json:"last_start_ms"`
	// LastReadyMs is launch → the last level said it is ready.
	LastReadyMs float64 `json:"last_ready_ms"`
	// ManagerMs is, for tend, launch → its READY=1 on the NOTIFY_SOCKET
	// the driver gave it: tend's own verdict that the stack is ready.
	ManagerMs float64 `json:"manager_ms,omitempty"`
}

// readyResult is one variant's samples; for tend, also its wake-ups
// once the chain is ready, with its notify sockets open.
type readyResult struct {
	Samples []readySample `json:"samples"`
	// IdleSwitches is tend's context switches, all threads, in IdleSec
	// after IdleSettleSec past its READY=1.
	IdleSwitches *int64  `json:"idle_switches,omitempty"`
	IdleSec      float64 `json:"idle_s,omitempty"`
}

// measureReady launches each variant's chain p.ReadyRuns times, one at a
// time, and the first tend chain's idle window.
func measureReady(t *procTree, sups []supervisor, p params) (map[string]readyResult, error) {
	bySup := map[string]supervisor{}
	for _, s := range sups {
		bySup[s.Name] = s
	}
	res := map[string]readyResult{}
	for run := range p.ReadyRuns {
		for _, v := range readyVariants {
			sup, notify := bySup["tend"], true
			switch v {
			case readyStartsecs:
				notify = false
			case readyS6:
				sup = bySup["s6"]
			}
			r := res[v]
			s, err := readyOnce(t, sup, notify, p, v == readyTend && run == 0, &r)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", v, err)
			}
			r.Samples = append(r.Samples, s)
			res[v] = r
		}
	}
	return res, nil
}

// readyOnce launches one chain, waits until its last level is ready
// (and, for tend, until tend says READY=1), and stops it. With idle, it
// first counts tend's wake-ups into r.
func readyOnce(t *procTree, sup supervisor, notify bool, p params, idle bool, r *readyResult) (readySample, error) {
	var s readySample
	dir, err := os.MkdirTemp("", "svbench-ready-")
	if err != nil {
		return s, err
	}
	defer os.RemoveAll(dir)
	sc := scenario{kind: "chain", levels: p.ReadyLevels, readyMs: p.ReadyMs, notify: notify, file: filepath.Join(dir, "records")}
	var manager chan int64
	if sup.Name == "tend" {
		addr := filepath.Join(dir, "manager.sock")
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
		if err != nil {
			return s, err
		}
		defer conn.Close()
		manager = make(chan int64, 1)
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := conn.Read(buf)
				if err != nil {
					return
				}
				if at := benchkit.Monotonic(); strings.Contains("\n"+string(buf[:n])+"\n", "\nREADY=1\n") {
					manager <- at
					return
				}
			}
		}()
		sc.env = []string{"NOTIFY_SOCKET=" + addr}
	}
	in, err := launch(t, sup, sc, nil)
	if err != nil {
		return s, err
	}
	last := chainName(p.ReadyLevels - 1)
	deadline := time.Now().Add(time.Duration(p.ReadyLevels)*2*time.Second + 20*time.Second)
	for {
		rs, err := readRecords(sc.file)
		if err != nil {
			return s, in.fail(t, err)
		}
		for _, rec := range rs {
			switch rec.what {
			case "start:" + last:
				s.LastStartMs = msBetween(in.startNs, rec.ns)
			case "ready:" + last:
				s.LastReadyMs = msBetween(in.startNs, rec.ns)
			}
		}
		if s.LastReadyMs > 0 {
			break
		}
		select {
		case <-in.done:
			return s, in.fail(t, errors.New("exited before the chain was ready"))
		default:
		}
		if time.Now().After(deadline) {
			return s, in.fail(t, fmt.Errorf("level %s not ready in time", last))
		}
		time.Sleep(2 * time.Millisecond) // records carry their own times
	}
	if manager != nil {
		select {
		case at := <-manager:
			s.ManagerMs = msBetween(in.startNs, at)
		case <-time.After(time.Until(deadline)):
			return s, in.fail(t, errors.New("no READY=1 on its NOTIFY_SOCKET"))
		}
	}
	if idle {
		// Past the last level's startsecs (1 s), which the loop watches
		// as it does any deadline: then nothing is due.
		sw, err := benchkit.IdleWindow(1, p.ReadyIdleSettleSec, p.ReadyIdleSec, func(int) (benchkit.Switches, error) {
			return benchkit.ReadSwitches(in.pid)
		})
		if err != nil {
			return s, in.fail(t, err)
		}
		n := sw.Window[0].Total()
		r.IdleSwitches, r.IdleSec = &n, sw.WindowSec
	}
	if _, err := in.stop(30 * time.Second); err != nil {
		return s, in.fail(t, err)
	}
	in.cleanup()
	return s, nil
}

// renderReady writes the time-to-ready table.
func renderReady(b *strings.Builder, res *results) {
	rd := res.Ready
	if len(rd) == 0 {
		return
	}
	p := res.Params
	sum := float64(p.ReadyLevels * p.ReadyMs)
	fmt.Fprintf(b, "\nTime to ready: a chain of %d programs, each depending on the one before, each ready %d ms after it starts "+
		"(`svchild ready`); the sum of the readiness delays is %.0f ms. tend: `ready = \"notify\"` and `depends_on`; "+
		"tend without `ready`, as before readiness: each level waits out the default `startsecs` (1 s); s6 has no dependencies "+
		"(s6-rc has them, and is not installed): each level's `./run` waits with `s6-svwait -U` for the level before, "+
		"ready by its `notification-fd`, then execs svchild. supervisord has neither readiness nor dependencies. "+
		"%d launches of each, one at a time.\n\n", p.ReadyLevels, p.ReadyMs, sum, p.ReadyRuns)
	b.WriteString("| metric | " + strings.Join(readyVariants, " | ") + " |\n|---|--:|--:|--:|\n")
	row := func(label string, f func(readySample) float64) {
		cells := make([]string, len(readyVariants))
		for i, v := range readyVariants {
			var xs []float64
			for _, s := range rd[v].Samples {
				if x := f(s); x > 0 {
					xs = append(xs, x)
				}
			}
			if len(xs) == 0 {
				cells[i] = "—"
				continue
			}
			sm := benchkit.Summarize(xs)
			cells[i] = fmt.Sprintf("%.0f (%.0f–%.0f)", sm.Median, sm.Min, sm.Max)
		}
		fmt.Fprintf(b, "| %s | %s |\n", label, strings.Join(cells, " | "))
	}
	row(fmt.Sprintf("launch → level %d's program started, median (min–max), ms", p.ReadyLevels),
		func(s readySample) float64 { return s.LastStartMs })
	row(fmt.Sprintf("launch → level %d said it is ready, median (min–max), ms", p.ReadyLevels),
		func(s readySample) float64 { return s.LastReadyMs })
	row("**launch → the supervisor says the stack is ready** (tend: READY=1 on its NOTIFY_SOCKET), median (min–max), ms",
		func(s readySample) float64 { return s.ManagerMs })
	var xs []float64
	for _, s := range rd[readyTend].Samples {
		xs = append(xs, s.ManagerMs)
	}
	med := benchkit.Summarize(xs).Median
	fmt.Fprintf(b, "\nTarget: tend's READY=1 ≤ 1.2 × %.0f ms = %.0f ms after launch (median): %.0f ms, %s.\n",
		sum, 1.2*sum, med, benchkit.Yes(med <= 1.2*sum))
	if tr := rd[readyTend]; tr.IdleSwitches != nil {
		fmt.Fprintf(b, "Idle with notify sockets open: tend's context switches, all threads, in %.0f s starting %.1f s after its READY=1, "+
			"the %d programs ready: %d (target 0: %s).\n", tr.IdleSec, p.ReadyIdleSettleSec, p.ReadyLevels, *tr.IdleSwitches,
			benchkit.Yes(*tr.IdleSwitches == 0))
	}
}
