package reaper

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// SignalLeftovers sends sig to every process tend must outlive once the
// main program is gone, and reports whether it reached any.
//
// As PID 1 that is every process in the namespace: kill(-1) reaches all
// but tend itself, including those `docker exec` put there. Otherwise
// (a subreaper, tend -- CMD on a host) it is tend's descendants, found
// by walking /proc: grandchildren whose parent still lives are not yet
// tend's children, and may sit in process groups of their own.
func SignalLeftovers(init bool, sig syscall.Signal) bool {
	if init {
		return unix.Kill(-1, sig) == nil
	}
	any := false
	for _, pid := range descendants(os.Getpid()) {
		if unix.Kill(pid, sig) == nil {
			any = true
		}
	}
	return any
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
		if ppid, err := parentOf(pid); err == nil {
			children[ppid] = append(children[ppid], pid)
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
		if g, err := statField(pid, 2); err == nil && g == pgid {
			n++
		}
	}
	return n
}

// parentOf reads the ppid from /proc/PID/stat.
func parentOf(pid int) (int, error) { return statField(pid, 1) }

// statField reads a numeric field of /proc/PID/stat, counted from the
// one after the command name: 0 is the state, 1 the ppid, 2 the process
// group. The command name may hold spaces and parentheses, so the fields
// are counted from the last ')'.
func statField(pid, i int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	j := bytes.LastIndexByte(b, ')')
	if j < 0 {
		return 0, errors.New("malformed stat")
	}
	f := bytes.Fields(b[j+1:])
	if len(f) <= i {
		return 0, errors.New("malformed stat")
	}
	return strconv.Atoi(string(f[i]))
}
