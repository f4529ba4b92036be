// Command initbench measures tend as PID 1 side by side with tini,
// dumb-init and catatonit, in one run: startup and exit, memory, binary
// size, signal-forwarding latency, reaping ten thousand orphans, and
// wake-ups while idle. Every init runs the same child (bench/cmd/benchchild)
// as PID 1 of its own PID namespace (unshare --pid --fork --mount-proc).
//
// It writes every sample to OUT/results-MODE.json (MODE is full or
// quick), renders the tables from that file to OUT/results-MODE.md and,
// when asked, into the generated block of docs/benchmarks.md. Run it
// through bench/init.sh, which builds tend and the child first;
// docs/benchmarks.md says what each number means.
//
//	initbench -tend BIN -child BIN [-quick] [-out DIR] [-doc FILE] [-command TEXT]
//	initbench -render [-quick] [-out DIR] [-doc FILE]     render OUT/results-MODE.json again
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
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
		Orphans: 10000, ReapBurstRuns: 3, ReapStormRuns: 5, ReapSampleRuns: 1,
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
	Command  string                `json:"command"`
	Params   params                `json:"params"`
	Started  time.Time             `json:"started"`
	Seconds  float64               `json:"seconds"`
	Machine  machine               `json:"machine"`
	Inits    []initSpec            `json:"inits"`
	Binaries []binary              `json:"binaries"`
	Startup  startupResult         `json:"startup"`
	Signal   map[string]latency    `json:"signal"`
	Idle     map[string]idleResult `json:"idle"`
	// ReapZombies and ReapLive are the two reaping scenarios (reap.go).
	ReapZombies map[string]reapResult `json:"reap_zombie_burst"`
	ReapLive    map[string]reapResult `json:"reap_exit_storm"`
}

// childPath is the benchmark child every init runs.
var childPath string

func main() {
	tend := flag.String("tend", "", "the tend binary to measure")
	child := flag.String("child", "", "the benchchild binary")
	out := flag.String("out", "bench/out", "directory for results-MODE.json, results-MODE.md and hyperfine's files")
	isQuick := flag.Bool("quick", false, "a few iterations of everything: a smoke test, not a measurement")
	doc := flag.String("doc", "", "also write the tables into the generated block of this markdown file")
	command := flag.String("command", "", "the command line to print in the report (default: this one)")
	render := flag.Bool("render", false, "only render OUT/results-MODE.json again")
	flag.Parse()
	if err := run(*tend, *child, *out, *doc, *command, *isQuick, *render); err != nil {
		fmt.Fprintln(os.Stderr, "initbench:", err)
		os.Exit(1)
	}
}

func run(tend, child, out, doc, command string, isQuick, render bool) error {
	p := full
	if isQuick {
		p = quick
	}
	jsonPath := filepath.Join(out, "results-"+p.Mode+".json")
	if render {
		b, err := os.ReadFile(jsonPath)
		if err != nil {
			return err
		}
		var res results
		if err := json.Unmarshal(b, &res); err != nil {
			return fmt.Errorf("%s: %w", jsonPath, err)
		}
		return report(&res, out, doc)
	}
	if tend == "" || child == "" {
		return errors.New("want -tend and -child (bench/init.sh builds and passes them)")
	}
	if os.Geteuid() != 0 {
		return errors.New("must run as root: unshare --pid needs it")
	}
	var err error
	if childPath, err = filepath.Abs(child); err != nil {
		return err
	}
	if tend, err = filepath.Abs(tend); err != nil {
		return err
	}
	if unsharePath, err = exec.LookPath("unshare"); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if p.Nice, err = niceness(); err != nil {
		return err
	}
	if command == "" {
		command = fmt.Sprint(os.Args)
	}
	specs := initSpecs(tend)
	res := &results{Command: command, Params: p, Started: time.Now().UTC(), Inits: specs}
	t0 := time.Now()
	res.Machine = machineFacts(tend)
	if res.Machine.BusyPct > 20 {
		fmt.Fprintf(os.Stderr, "initbench: the machine is busy (%.0f%% of CPU in use before the run): expect noise, in p99s first\n",
			res.Machine.BusyPct)
	}

	steps := []struct {
		name string
		fn   func() error
	}{
		{"binary size", func() (err error) { res.Binaries, err = measureSizes(specs); return }},
		{"startup+exit", func() (err error) { res.Startup, err = measureStartup(specs, p, out); return }},
		{"signal forwarding", func() (err error) { res.Signal, err = measureSignals(specs, p); return }},
		{"idle wake-ups and memory", func() (err error) { res.Idle, err = measureIdle(specs, p); return }},
		{"reaping a zombie burst", func() (err error) {
			res.ReapZombies, err = measureReap(specs, p, zombieBurst, p.ReapBurstRuns, 0)
			return
		}},
		{"reaping an exit storm", func() (err error) {
			res.ReapLive, err = measureReap(specs, p, exitStorm, p.ReapStormRuns, p.ReapSampleRuns)
			return
		}},
	}
	for _, s := range steps {
		t := time.Now()
		fmt.Fprintf(os.Stderr, "initbench: %s...\n", s.name)
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(os.Stderr, "initbench: %s done in %.1fs\n", s.name, time.Since(t).Seconds())
	}
	res.Seconds = time.Since(t0).Seconds()
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return report(res, out, doc)
}
