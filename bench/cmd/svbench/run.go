package main

import "tend/bench/internal/benchkit"

// params are the sizes of one run; -quick shrinks them but still runs
// every measurement.
type params struct {
	Mode string `json:"mode"`
	// Programs is how many `sleep 3600` each supervisor runs.
	Programs int `json:"programs"`
	// LifecycleRuns is the number of start-and-stop runs per variant;
	// SettleSec the pause between the last spawn and SIGTERM.
	LifecycleRuns int     `json:"lifecycle_runs"`
	SettleSec     float64 `json:"settle_s"`
	IdleSettleSec float64 `json:"idle_settle_s"`
	IdleWindowSec float64 `json:"idle_window_s"`
	// LogBytes is what svchild writes per run, LogRuns the runs per path.
	LogBytes int64 `json:"log_bytes"`
	LogRuns  int   `json:"log_runs"`
	// RestartSamples restarts per supervisor, of a program that runs
	// RestartLifeMs (plus up to a fifth) each time.
	RestartSamples int `json:"restart_samples"`
	RestartLifeMs  int `json:"restart_life_ms"`
	FloorSamples   int `json:"floor_samples"`
	// CrashLoopSec is the crash-loop window, of a program that exits 1
	// CrashLoopLifeMs after each start.
	CrashLoopSec    float64 `json:"crash_loop_s"`
	CrashLoopLifeMs int     `json:"crash_loop_life_ms"`
	// ReadyRuns launches per variant of a chain of ReadyLevels programs,
	// each ready ReadyMs after it starts; tend's wake-ups once the first
	// is ready are counted for ReadyIdleSec after ReadyIdleSettleSec.
	ReadyRuns          int     `json:"ready_runs"`
	ReadyLevels        int     `json:"ready_levels"`
	ReadyMs            int     `json:"ready_ms"`
	ReadyIdleSettleSec float64 `json:"ready_idle_settle_s"`
	ReadyIdleSec       float64 `json:"ready_idle_s"`
	Nice               int     `json:"nice"`
}

var (
	full = params{
		Mode: "full", Programs: 100, LifecycleRuns: 7, SettleSec: 1,
		IdleSettleSec: 3, IdleWindowSec: 20,
		LogBytes: 1 << 30, LogRuns: 7,
		RestartSamples: 40, RestartLifeMs: 1200, FloorSamples: 40,
		CrashLoopSec: 60, CrashLoopLifeMs: 1300,
		ReadyRuns: 10, ReadyLevels: 3, ReadyMs: 50, ReadyIdleSettleSec: 1.5, ReadyIdleSec: 10,
	}
	quick = params{
		Mode: "quick", Programs: 20, LifecycleRuns: 1, SettleSec: 0.3,
		IdleSettleSec: 1.5, IdleWindowSec: 2,
		LogBytes: 64 << 20, LogRuns: 1,
		RestartSamples: 3, RestartLifeMs: 1100, FloorSamples: 3,
		CrashLoopSec: 20, CrashLoopLifeMs: 1300,
		ReadyRuns: 2, ReadyLevels: 3, ReadyMs: 50, ReadyIdleSettleSec: 1.5, ReadyIdleSec: 2,
	}
)

// results is everything one run measured: the contents of results-MODE.json.
type results struct {
	benchkit.Header[params]
	Supervisors []supervisor                 `json:"supervisors"`
	Lifecycle   map[string][]lifecycleSample `json:"lifecycle"`
	Idle        map[string]idleResult        `json:"idle"`
	Logs        map[string][]logSample       `json:"logs"`
	Restart     map[string]restartResult     `json:"restart"`
	CrashLoop   map[string]crashLoopResult   `json:"crash_loop,omitempty"`
	Ready       map[string]readyResult       `json:"ready,omitempty"`
	FloorMs     []float64                    `json:"floor_ms"`
	// BusyPct is the share of the machine's CPU in use during each step,
	// by every process, svbench's included: in the idle and restart
	// steps svbench's own share is next to nothing, so it is the rest of
	// the machine's load.
	BusyPct map[string]float64 `json:"busy_pct"`
	// LostEvents counts process-event overruns over the whole run; a
	// lifecycle sample that saw one was taken again.
	LostEvents int `json:"lost_events"`
}

// usage is what -help says of the flags whose meaning is svbench's own.
var usage = benchkit.Usage{
	Child: "the svchild binary",
	Out:   "directory for results-MODE.json and results-MODE.md",
	Quick: "small counts of everything: a smoke test, not a measurement",
}

// packages are the Debian packages whose versions the report gives.
var packages = []string{"supervisor", "s6", "execline", "libskarnet2.13", "python3", "coreutils"}

func measure(f benchkit.Flags, h benchkit.Header[params]) (*results, error) {
	p := h.Params
	tendPath, childPath = f.Tend, f.Child
	sups := supervisors(tendPath)
	res := &results{Header: h, Supervisors: sups}
	tree, err := openProcTree()
	if err != nil {
		return nil, err
	}
	res.BusyPct, err = benchkit.RunSteps("svbench", []benchkit.Step{
		{Name: "start and stop", Run: func() (err error) {
			res.Lifecycle, err = measureLifecycle(tree, sups, p)
			return
		}},
		{Name: "idle wake-ups and memory", Run: func() (err error) { res.Idle, err = measureIdle(tree, sups, p); return }},
		{Name: "output throughput", Run: func() (err error) { res.Logs, err = measureLogs(tree, sups, p); return }},
		{Name: "restart floor", Run: func() (err error) { res.FloorMs, err = measureFloor(p.FloorSamples); return }},
		{Name: "crash-to-restart latency", Run: func() (err error) { res.Restart, err = measureRestart(tree, sups, p); return }},
		{Name: "crash loop", Run: func() (err error) { res.CrashLoop, err = measureCrashLoop(tree, sups, p); return }},
		{Name: "time to ready", Run: func() (err error) { res.Ready, err = measureReady(tree, sups, p); return }},
	})
	res.LostEvents = tree.lostEvents()
	res.Seconds = h.Elapsed()
	return res, err
}

// WithNice is p at niceness nice.
func (p params) WithNice(nice int) params { p.Nice = nice; return p }
