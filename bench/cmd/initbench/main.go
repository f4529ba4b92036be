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
// With -floors, the memory measurement also runs reference inits that
// are not peers but floors: bench/cmd/initfloor, the least a Go program
// can be and serve as PID 1, built with and without the logger tend
// links. They show how much of tend's RSS any Go init holds.
//
//	initbench -tend BIN -child BIN [-floors NAME=BIN,...] [-quick] [-out DIR] [-doc FILE] [-command TEXT]
//	initbench -render [-quick] [-out DIR] [-doc FILE]     render OUT/results-MODE.json again
package main

import (
	"flag"

	"tend/bench/internal/benchkit"
)

// floorsFlag is -floors: NAME=BIN pairs, comma-separated, in the order
// the report lists them (bench/init.sh builds and passes them), each
// linking more than the one before: the last is the floor the report
// holds the RSS target against.
var floorsFlag = flag.String("floors", "", "reference Go inits measured for memory only, as NAME=BIN,...")

func main() {
	benchkit.Driver[results, params]{Name: "initbench", Script: "bench/init.sh", Out: "bench/out",
		Root: "unshare --pid needs it", Usage: usage, Full: full, Quick: quick, Packages: packages,
		Measure: measure, Render: render}.Main()
}
