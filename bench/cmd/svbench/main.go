// Command svbench measures tend in supervisor mode side by side with
// supervisord and s6, in one run: starting and stopping 100 programs,
// memory and idle wake-ups with 100 programs running, the throughput of
// a program's output through the supervisor, crash-to-restart latency,
// a crash loop, and the time to ready of a chain of programs that say
// when they are ready. All three run on the host as children of svbench (not as
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

import "tend/bench/internal/benchkit"

func main() {
	benchkit.Driver[results, params]{Name: "svbench", Script: "bench/supervisor.sh", Out: "bench/out/supervisor",
		Root: "the process-events connector needs it", Usage: usage, Full: full, Quick: quick, Packages: packages,
		Measure: measure, Render: render}.Main()
}
