package cgroup

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Usage is what a program has used, read when asked.
type Usage struct {
	// CPU is user and system time. From a cgroup (cpu.stat usage_usec)
	// it counts every process that ever ran in it, exited ones
	// included; from a process group, the live members and the
	// children they have waited for.
	CPU time.Duration
	// Memory is in bytes: memory.current from a cgroup with the memory
	// controller (page cache and kernel memory charged to it
	// included); otherwise the members' resident sets summed, where a
	// page two members share counts twice.
	Memory uint64
}

// Usage reads the group's CPU time (cpu.stat, there without the cpu
// controller) and memory (memory.current, or the members' resident
// sets summed when the group has no memory controller).
func (g *Group) Usage() (Usage, error) {
	var u Usage
	data, err := readSmall(filepath.Join(g.dir, "cpu.stat"))
	if err != nil {
		return u, err
	}
	usec, ok := flatValue(data, "usage_usec")
	if !ok {
		return u, fmt.Errorf("%s/cpu.stat: no usage_usec", g.dir)
	}
	u.CPU = time.Duration(usec) * time.Microsecond
	data, err = readSmall(filepath.Join(g.dir, "memory.current"))
	if err == nil {
		n, err := strconv.ParseUint(string(trimNL(data)), 10, 64)
		if err != nil {
			return u, fmt.Errorf("%s/memory.current: %w", g.dir, err)
		}
		u.Memory = n
		return u, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return u, err
	}
	page := uint64(os.Getpagesize())
	err = eachPid(filepath.Join(g.dir, "cgroup.procs"), func(pid int) {
		if data, err := readSmall("/proc/" + strconv.Itoa(pid) + "/statm"); err == nil {
			if rss, ok := parseStatm(data); ok {
				u.Memory += rss * page
			}
		}
	})
	return u, err
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// ProcessGroupUsage is Usage for programs without a cgroup: for each
// process group in pgids, the CPU time (utime+stime+cutime+cstime from
// /proc/PID/stat) and resident memory (/proc/PID/statm) of its live
// members, in one pass over /proc. A member that left its process group
// (a daemon that called setsid) is not counted: that is what a cgroup
// is for.
func ProcessGroupUsage(pgids ...int) (map[int]Usage, error) {
	return processGroupUsage("/proc", pgids)
}

// maxProcEntries bounds the /proc entries processGroupUsage reads a
// batch.
const maxProcEntries = 256

func processGroupUsage(proc string, pgids []int) (map[int]Usage, error) {
	out := make(map[int]Usage, len(pgids))
	for _, p := range pgids {
		out[p] = Usage{}
	}
	d, err := os.Open(proc)
	if err != nil {
		return out, err
	}
	defer d.Close()
	tick := time.Second / time.Duration(clockTicks())
	page := uint64(os.Getpagesize())
	for {
		ents, err := d.ReadDir(maxProcEntries)
		for _, e := range ents {
			name := e.Name()
			if name == "" || name[0] < '1' || name[0] > '9' {
				continue
			}
			data, err := readSmall(filepath.Join(proc, name, "stat"))
			if err != nil {
				continue // gone since the directory was read
			}
			st, ok := parseStat(data)
			if !ok {
				continue
			}
			u, want := out[st.pgrp]
			if !want {
				continue
			}
			u.CPU += time.Duration(st.ticks) * tick
			if data, err := readSmall(filepath.Join(proc, name, "statm")); err == nil {
				if rss, ok := parseStatm(data); ok {
					u.Memory += rss * page
				}
			}
			out[st.pgrp] = u
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
	}
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: the
// kernel's AT_CLKTCK, 100 on every architecture Go runs Linux on.
func clockTicks() int64 {
	if auxv, err := unix.Auxv(); err == nil {
		for _, kv := range auxv {
			if kv[0] == atClkTck && kv[1] > 0 {
				return int64(kv[1])
			}
		}
	}
	return 100
}

// atClkTck is AT_CLKTCK in <elf.h>.
const atClkTck = 17

// Counter reads an OOM kill count: oom_kill in a cgroup's memory.events
// (v2, this cgroup and those under it) or memory.oom_control (v1, this
// cgroup alone). The supervisor reads it when a program starts and when
// it dies of a SIGKILL tend did not send: a count that went up names
// the death oom-killed.
type Counter struct {
	file string
}

// ErrNoCounter: there is no OOM count to read here (no memory
// controller).
var ErrNoCounter = errors.New("no OOM kill count (no memory controller)")

// Valid reports whether there is a count to read.
func (c Counter) Valid() bool { return c.file != "" }

// File is the file the count is read from, "" for none.
func (c Counter) File() string { return c.file }

// Count reads the count now.
func (c Counter) Count() (uint64, error) {
	if c.file == "" {
		return 0, ErrNoCounter
	}
	data, err := readSmall(c.file)
	if err != nil {
		return 0, err
	}
	n, ok := flatValue(data, "oom_kill")
	if !ok {
		return 0, fmt.Errorf("%s: no oom_kill (kernel before 4.13?)", c.file)
	}
	return n, nil
}

// OOMKills is the group's OOM kill count (memory.events), invalid when
// the group has no memory controller.
func (g *Group) OOMKills() Counter {
	return counterAt(filepath.Join(g.dir, "memory.events"))
}

// ContainerOOM is the OOM kill count of tend's cgroup (the container's,
// when tend is its init): v2 memory.events, which counts the programs'
// cgroups under it too; else v1 memory.oom_control, which counts kills
// forced by that cgroup's own limit (the container's memory limit).
// Invalid when neither is there.
func (s *System) ContainerOOM() Counter {
	if s.Dir != "" {
		if c := counterAt(filepath.Join(s.Dir, "memory.events")); c.Valid() {
			return c
		}
	}
	if s.V1Memory != "" {
		return counterAt(filepath.Join(s.V1Memory, "memory.oom_control"))
	}
	return Counter{}
}

// V1OOMCounter is the count of a v1 memory cgroup directory.
func V1OOMCounter(dir string) Counter {
	return counterAt(filepath.Join(dir, "memory.oom_control"))
}

func counterAt(file string) Counter {
	if !exists(file) {
		return Counter{}
	}
	return Counter{file: file}
}
