package main

import (
	"os/exec"
	"slices"

	"golang.org/x/sys/unix"

	"tend/bench/internal/benchkit"
)

// params are the sizes of one run; -quick shrinks every one of them but
// still runs every measurement.
type params struct {
	Mode           string  `json:"mode"`
	StartupRuns    int     `json:"startup_runs"`
	StartupWarmup  int     `json:"startup_warmup"`
	HyperfineRuns  int     `json:"hyperfine_runs"`
	SignalSamples  int     `json:"signal_samples"`
	SignalWarmup   int     `json:"signal_warmup"`
	SignalGapUs    int     `json:"signal_gap_us"`
	Orphans        int     `json:"orphans"`
	ReapBurstRuns  int     `json:"reap_burst_runs"`   // zombie burst, timed
	ReapStormRuns  int     `json:"reap_storm_runs"`   // exit storm, timed
	ReapSampleRuns int     `json:"reap_sampled_runs"` // exit storm only
	IdleSettleSec  float64 `json:"idle_settle_s"`
	IdleWindowSec  float64 `json:"idle_window_s"`
	// Nice is the niceness the run had, and every process it started
	// inherited: bench/init.sh asks for -20, which keeps other work on
	// the machine from disturbing the run as much.
	Nice int `json:"nice"`
}

var (
	full = params{
		Mode:        "full",
		StartupRuns: 300, StartupWarmup: 20, HyperfineRuns: 200,
		SignalSamples: 2000, SignalWarmup: 100, SignalGapUs: 1000,
		Orphans: 10000, ReapBurstRuns: 9, ReapStormRuns: 9, ReapSampleRuns: 1,
		IdleSettleSec: 1, IdleWindowSec: 20,
	}
	quick = params{
		Mode:        "quick",
		StartupRuns: 10, StartupWarmup: 2, HyperfineRuns: 5,
		SignalSamples: 100, SignalWarmup: 10, SignalGapUs: 1000,
		Orphans: 1000, ReapBurstRuns: 1, ReapStormRuns: 1, ReapSampleRuns: 1,
		IdleSettleSec: 0.5, IdleWindowSec: 2,
	}
)

// results is everything one run measured: the contents of results-MODE.json.
type results struct {
	benchkit.Header[params]
	Inits []initSpec `json:"inits"`
	// Floors are reference Go inits (-floors), measured for binary size
	// and, in the idle window beside the inits, for memory: their idle
	// results are in Idle under their names.
	Floors   []initSpec         `json:"floors,omitempty"`
	Binaries []binary           `json:"binaries"`
	Startup  startupResult      `json:"startup"`
	Signal   map[string]latency `json:"signal"`
	// Term is the same for SIGTERM, which the child catches and lives
	// on: an init may take another path for the stop signal.
	Term map[string]latency    `json:"signal_term"`
	Idle map[string]idleResult `json:"idle"`
	// ReapZombies and ReapLive are the two reaping scenarios (reap.go).
	ReapZombies map[string]reapResult `json:"reap_zombie_burst"`
	ReapLive    map[string]reapResult `json:"reap_exit_storm"`
}

// childPath is the benchmark child every init runs.
var childPath string

// usage is what -help says of the flags whose meaning is initbench's own.
var usage = benchkit.Usage{
	Child: "the benchchild binary",
	Out:   "directory for results-MODE.json, results-MODE.md and hyperfine's files",
	Quick: "a few iterations of everything: a smoke test, not a measurement",
}

// packages are the Debian packages whose versions the report gives.
var packages = []string{"tini", "dumb-init", "catatonit", "hyperfine", "util-linux"}

func measure(f benchkit.Flags, h benchkit.Header[params]) (*results, error) {
	p := h.Params
	childPath = f.Child
	var err error
	if unsharePath, err = exec.LookPath("unshare"); err != nil {
		return nil, err
	}
	specs := initSpecs(f.Tend)
	floors, err := parseFloors(*floorsFlag)
	if err != nil {
		return nil, err
	}
	res := &results{Header: h, Inits: specs, Floors: floors}
	_, err = benchkit.RunSteps("initbench", []benchkit.Step{
		{Name: "binary size", Run: func() (err error) { res.Binaries, err = measureSizes(specs, floors); return }},
		{Name: "startup+exit", Run: func() (err error) { res.Startup, err = measureStartup(specs, p, f.Out); return }},
		{Name: "signal forwarding", Run: func() (err error) { res.Signal, err = measureSignals(specs, p, unix.SIGUSR1); return }},
		{Name: "TERM forwarding", Run: func() (err error) { res.Term, err = measureSignals(specs, p, unix.SIGTERM); return }},
		{Name: "idle wake-ups and memory", Run: func() (err error) { res.Idle, err = measureIdle(append(slices.Clone(specs), floors...), p); return }},
		{Name: "reaping a zombie burst", Run: func() (err error) {
			res.ReapZombies, err = measureReap(specs, p, zombieBurst, p.ReapBurstRuns, 0)
			return
		}},
		{Name: "reaping an exit storm", Run: func() (err error) {
			res.ReapLive, err = measureReap(specs, p, exitStorm, p.ReapStormRuns, p.ReapSampleRuns)
			return
		}},
	})
	res.Seconds = h.Elapsed()
	return res, err
}

// WithNice is p at niceness nice.
func (p params) WithNice(nice int) params { p.Nice = nice; return p }
