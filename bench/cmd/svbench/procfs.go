package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// This file reads /proc from the outside (reading another process's
// /proc files does not wake it). procPath to readSwitches and niceness
// are the same as bench/cmd/initbench's: the two drivers are separate
// commands, kept apart so that either can change without the other.

func procPath(pid int, rest string) string {
	return "/proc/" + strconv.Itoa(pid) + "/" + rest
}

// tasks lists the thread ids of pid.
func tasks(pid int) ([]int, error) {
	ents, err := os.ReadDir(procPath(pid, "task"))
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, tid)
		}
	}
	return out, nil
}

func statusField(pid int, key string) (string, error) {
	b, err := os.ReadFile(procPath(pid, "status"))
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("pid %d: no %s in status", pid, key)
}

// kB reads "1234 kB" as 1234.
func kB(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
	return n
}

// memory is an init's resident memory, in KiB.
type memory struct {
	VmRSS int64 `json:"vmrss_kib"`
	Rss   int64 `json:"rss_kib"`
	Pss   int64 `json:"pss_kib"`
}

func readMemory(pid int) (memory, error) {
	var m memory
	v, err := statusField(pid, "VmRSS")
	if err != nil {
		return m, err
	}
	m.VmRSS = kB(v)
	b, err := os.ReadFile(procPath(pid, "smaps_rollup"))
	if err != nil {
		return m, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "Rss":
			m.Rss = kB(v)
		case "Pss":
			m.Pss = kB(v)
		}
	}
	return m, nil
}

// switches is the sum of every thread's context switches.
type switches struct {
	Voluntary    int64 `json:"voluntary"`
	Nonvoluntary int64 `json:"nonvoluntary"`
	Threads      int   `json:"threads"`
}

func (s switches) total() int64 { return s.Voluntary + s.Nonvoluntary }

func (s switches) minus(o switches) switches {
	return switches{s.Voluntary - o.Voluntary, s.Nonvoluntary - o.Nonvoluntary, s.Threads}
}

func readSwitches(pid int) (switches, error) {
	tids, err := tasks(pid)
	if err != nil {
		return switches{}, err
	}
	s := switches{Threads: len(tids)}
	for _, tid := range tids {
		b, err := os.ReadFile(procPath(pid, "task/"+strconv.Itoa(tid)+"/status"))
		if err != nil {
			return s, err
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			switch k {
			case "voluntary_ctxt_switches":
				s.Voluntary += n
			case "nonvoluntary_ctxt_switches":
				s.Nonvoluntary += n
			}
		}
	}
	return s, nil
}

// niceness is this process's nice value, field 19 of /proc/self/stat.
func niceness() (int, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, err
	}
	f := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
	if len(f) < 17 {
		return 0, errors.New("malformed /proc/self/stat")
	}
	return strconv.Atoi(string(f[16]))
}

// monotonic is CLOCK_MONOTONIC in nanoseconds: the clock of svchild's
// timestamps and of the kernel's process events.
func monotonic() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// exec1 runs a command that must succeed.
func exec1(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w: %s", name, err, bytes.TrimSpace(out))
	}
	return nil
}

// readComm is the command name of pid ("" if it is gone).
func readComm(pid int) string {
	b, _ := os.ReadFile(procPath(pid, "comm"))
	return strings.TrimSpace(string(b))
}

// readSchedNs is the CPU time of every thread of pid so far, to the
// nanosecond: the first field of /proc/PID/task/*/schedstat.
func readSchedNs(pid int) (int64, error) {
	tids, err := tasks(pid)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, tid := range tids {
		b, err := os.ReadFile(procPath(pid, "task/"+strconv.Itoa(tid)+"/schedstat"))
		if err != nil {
			return 0, err
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			sum += n
		}
	}
	return sum, nil
}
