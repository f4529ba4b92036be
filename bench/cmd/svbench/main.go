// Command svbench measures tend in supervisor mode side by side with
// supervisord and s6, in one run: starting and stopping 100 programs,
// memory and idle wake-ups with 100 programs running, the throughput of
// a program's output through the supervisor, and crash-to-restart
// latency. All three run on the host as children of svbench (not as
// PID 1), with the same programs: `sleep 3600`, or the helper
// bench/cmd/svbench/svchild.
//
// Process starts and exits are timed by the kernel's process-events
// connector (procevents.go), whose events carry their own
// CLOCK_MONOTONIC time; svchild writes the same clock's readings.
//
// It writes every sample to OUT/results-MODE.json (MODE is full or
// quick), renders the tables from that file to OUT/results-MODE.md and,
// when asked, into the generated block of docs/benchmarks-supervisor.md.
// Run it through bench/supervisor.sh, which builds tend and svchild first.
//
//	svbench -tend BIN -child BIN [-quick] [-out DIR] [-doc FILE] [-command TEXT]
//	svbench -render [-quick] [-out DIR] [-doc FILE]     render OUT/results-MODE.json again
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

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
	Nice           int `json:"nice"`
}

var (
	full = params{
		Mode: "full", Programs: 100, LifecycleRuns: 7, SettleSec: 1,
		IdleSettleSec: 3, IdleWindowSec: 20,
		LogBytes: 1 << 30, LogRuns: 7,
		RestartSamples: 40, RestartLifeMs: 1200, FloorSamples: 40,
	}
	quick = params{
		Mode: "quick", Programs: 20, LifecycleRuns: 1, SettleSec: 0.3,
		IdleSettleSec: 1.5, IdleWindowSec: 2,
		LogBytes: 64 << 20, LogRuns: 1,
		RestartSamples: 3, RestartLifeMs: 1100, FloorSamples: 3,
	}
)

// results is everything one run measured: the contents of results-MODE.json.
type results struct {
	Command     string                       `json:"command"`
	Params      params                       `json:"params"`
	Started     time.Time                    `json:"started"`
	Seconds     float64                      `json:"seconds"`
	Machine     machine                      `json:"machine"`
	Supervisors []supervisor                 `json:"supervisors"`
	Lifecycle   map[string][]lifecycleSample `json:"lifecycle"`
	Idle        map[string]idleResult        `json:"idle"`
	Logs        map[string][]logSample       `json:"logs"`
	Restart     map[string]restartResult     `json:"restart"`
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

func main() {
	tend := flag.String("tend", "", "the tend binary to measure")
	child := flag.String("child", "", "the svchild binary")
	out := flag.String("out", "bench/out/supervisor", "directory for results-MODE.json and results-MODE.md")
	isQuick := flag.Bool("quick", false, "small counts of everything: a smoke test, not a measurement")
	doc := flag.String("doc", "", "also write the tables into the generated block of this markdown file")
	command := flag.String("command", "", "the command line to print in the report (default: this one)")
	render := flag.Bool("render", false, "only render OUT/results-MODE.json again")
	flag.Parse()
	if err := run(*tend, *child, *out, *doc, *command, *isQuick, *render); err != nil {
		fmt.Fprintln(os.Stderr, "svbench:", err)
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
		return errors.New("want -tend and -child (bench/supervisor.sh builds and passes them)")
	}
	if os.Geteuid() != 0 {
		return errors.New("must run as root: the process-events connector needs it")
	}
	var err error
	if childPath, err = filepath.Abs(child); err != nil {
		return err
	}
	if tendPath, err = filepath.Abs(tend); err != nil {
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
	sups := supervisors(tendPath)
	res := &results{Command: command, Params: p, Started: time.Now().UTC(), Supervisors: sups}
	t0 := time.Now()
	res.Machine = machineFacts(tendPath)
	if res.Machine.BusyPct > 20 {
		fmt.Fprintf(os.Stderr, "svbench: the machine is busy (%.0f%% of CPU in use before the run): expect noise\n",
			res.Machine.BusyPct)
	}
	tree, err := openProcTree()
	if err != nil {
		return err
	}

	steps := []struct {
		name string
		fn   func() error
	}{
		{"start and stop", func() (err error) {
			res.Lifecycle, err = measureLifecycle(tree, sups, p)
			return
		}},
		{"idle wake-ups and memory", func() (err error) { res.Idle, err = measureIdle(tree, sups, p); return }},
		{"output throughput", func() (err error) { res.Logs, err = measureLogs(tree, sups, p); return }},
		{"restart floor", func() (err error) { res.FloorMs, err = measureFloor(p.FloorSamples); return }},
		{"crash-to-restart latency", func() (err error) { res.Restart, err = measureRestart(tree, sups, p); return }},
	}
	res.BusyPct = map[string]float64{}
	for _, s := range steps {
		t := time.Now()
		fmt.Fprintf(os.Stderr, "svbench: %s...\n", s.name)
		c0, i0 := cpuStat()
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		res.BusyPct[s.name] = busySince(c0, i0)
		fmt.Fprintf(os.Stderr, "svbench: %s done in %.1fs, %.0f%% of the machine's CPU in use\n",
			s.name, time.Since(t).Seconds(), res.BusyPct[s.name])
	}
	res.LostEvents = tree.lostEvents()
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
