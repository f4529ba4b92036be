// Package benchkit is what the two benchmark drivers share:
// bench/cmd/initbench (tend as PID 1 beside tini, dumb-init and
// catatonit) and bench/cmd/svbench (tend as a supervisor beside
// supervisord and s6), and the soak (bench/cmd/soak) with them.
//
//   - driver.go: the command line and the course of a run (Driver):
//     measure, write OUT/results-MODE.json, render it; or render it again;
//   - procfs.go: reading another process's /proc files (threads, memory,
//     context switches, CPU time), which does not wake it;
//   - procevents.go: the kernel's process-events connector (every fork,
//     exec and exit, timed), for svbench and the soak;
//   - clock.go: CLOCK_MONOTONIC, the clock of the children's timestamps;
//   - stats.go: the summary of a sample (median, p99, range, mean);
//   - idle.go: counting context switches over a settle and an idle window;
//   - facts.go: what the machine was and how busy it was;
//   - table.go: the rows, cells and ratios of the markdown tables;
//   - report.go: writing results-MODE.md and the generated block of a
//     docs page.
//
// What only one driver measures, and the tables it renders, stay in that
// driver.
package benchkit
