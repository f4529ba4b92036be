package reaper

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Skip is the process groups that have had a stop signal already (the
// one tend forwarded, or a program's stopsignal), each with the time it
// was sent, in ticks of the boot clock (BootTicks). The sweep passes
// over their members that were there by then: a second SIGTERM means
// "quit now" to Celery, to Go programs and to many others.
type Skip map[int]uint64

// Swept is what one sweep did: how many processes it signalled and how
// many it passed over (Skip).
type Swept struct {
	Signalled, Skipped int
}

// Any says whether the sweep found any process.
func (w Swept) Any() bool { return w.Signalled > 0 || w.Skipped > 0 }

// SignalLeftovers sends sig to every process tend must outlive once the
// main program is gone, but those skip names, and reports what it did.
//
// As PID 1 that is every process in the namespace: with nothing to skip,
// kill(-1) reaches all but tend itself, including those `docker exec`
// put there, in one call (Signalled is then 1 for "some"). Otherwise (a
// subreaper, tend -- CMD on a host) it is tend's descendants, found by
// walking /proc: grandchildren whose parent still lives are not yet
// tend's children, and may sit in process groups of their own.
func SignalLeftovers(init bool, sig syscall.Signal, skip Skip) (Swept, error) {
	var w Swept
	if init && len(skip) == 0 {
		err := unix.Kill(-1, sig)
		if err == nil {
			w.Signalled = 1
		} else if err == unix.ESRCH {
			err = nil
		}
		return w, err
	}
	var pids []int
	if init {
		pids = allPids()
	} else {
		pids = descendants(os.Getpid())
	}
	for _, pid := range pids {
		if len(skip) > 0 {
			if st, err := readStat(pid); err == nil {
				if t, ok := skip[st.pgid]; ok && st.start <= t {
					w.Skipped++
					continue
				}
			}
		}
		if unix.Kill(pid, sig) == nil {
			w.Signalled++
		}
	}
	return w, nil
}

// BootTicks is the boot clock in the ticks of /proc/PID/stat's start
// time (USER_HZ, 100 a second on Linux): a process whose start time is
// not after a reading of it was there at that reading, to the tick.
func BootTicks() uint64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0
	}
	return BootTicksAt(ts.Nano())
}

// BootTicksAt is BootTicks at ns, a time on CLOCK_BOOTTIME in
// nanoseconds.
func BootTicksAt(ns int64) uint64 {
	return uint64(ns) / (1e9 / userHZ)
}

// userHZ is the unit of the times in /proc/PID/stat, fixed by the
// kernel's ABI.
const userHZ = 100

// allPids lists every process in the namespace but tend (PID 1).
func allPids() []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid != 1 && pid != os.Getpid() {
			out = append(out, pid)
		}
	}
	return out
}

// descendants lists every process below root, read from /proc. A process
// forked during the walk may be missed; it is found on the next call (the
// shutdown sends TERM, then KILL, each with a fresh walk), and when its
// parent dies it becomes tend's child anyway.
func descendants(root int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil {
			children[st.ppid] = append(children[st.ppid], pid)
		}
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// stat is what the sweep reads of /proc/PID/stat.
type stat struct {
	ppid, pgid int
	start      uint64 // start time, boot clock ticks
}

// readStat reads /proc/PID/stat. The command name in field 2 may hold
// spaces and parentheses, so the fields are counted from the last ')'.
func readStat(pid int) (stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, errors.New("malformed stat")
	}
	// From the state (field 3): ppid is field 4, pgrp 5, starttime 22.
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 {
		return stat{}, errors.New("malformed stat")
	}
	var st stat
	if st.ppid, err = strconv.Atoi(string(f[1])); err != nil {
		return stat{}, err
	}
	if st.pgid, err = strconv.Atoi(string(f[2])); err != nil {
		return stat{}, err
	}
	if st.start, err = strconv.ParseUint(string(f[19]), 10, 64); err != nil {
		return stat{}, err
	}
	return st, nil
}

// GroupSize counts the processes in process group pgid, zombies
// included, from /proc: how many a program's main process left behind
// (the supervisor logs it). 0 when /proc cannot be read.
func GroupSize(pgid int) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.pgid == pgid {
			n++
		}
	}
	return n
}
