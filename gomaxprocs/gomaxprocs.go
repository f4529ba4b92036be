// Package gomaxprocs runs tend on one P, unless GOMAXPROCS is set in the
// environment. Import it for its init, from main only.
//
// tend needs no parallelism: one loop, and copiers and probes that mostly
// wait. With more Ps the scheduler wakes idle ones to spin on every
// SIGCHLD: reaping an exit storm cost up to 8x the CPU (bench/init.sh).
//
// This is a package init, not a line in main, for memory: the runtime
// starts with one P per CPU, and every P keeps a span per size class it
// allocated from. Dropping to one P after the package inits had run (in
// main) flushed the second P's spans, with a 4 KB runtime block for each
// size class it had used, and left the surviving P to get spans of its
// own: up to 400 KiB of RssAnon in tend -- sleep, depending on which P the
// inits happened to run on. Go initializes packages in import path order
// as their dependencies are ready, and this one needs only runtime and
// syscall, so it runs before nearly every other init allocates.
package gomaxprocs

import (
	"runtime"
	"syscall"
)

func init() {
	// syscall, not os: os would make this init wait for os's.
	if _, set := syscall.Getenv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(1)
	}
}
