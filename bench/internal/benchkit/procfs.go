package benchkit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// This file reads /proc. Everything is read from the outside: looking at
// another process's /proc files does not wake it.

// ProcPath is /proc/PID/REST.
func ProcPath(pid int, rest string) string {
	return "/proc/" + strconv.Itoa(pid) + "/" + rest
}

// Tasks lists the thread ids of pid.
func Tasks(pid int) ([]int, error) {
	ents, err := os.ReadDir(ProcPath(pid, "task"))
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

// StatusField is the value of the line "KEY:" of /proc/PID/status,
// trimmed.
func StatusField(pid int, key string) (string, error) {
	b, err := os.ReadFile(ProcPath(pid, "status"))
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

// Memory is a process's resident memory, in KiB.
type Memory struct {
	VmRSS int64 `json:"vmrss_kib"`
	// RssAnon and RssFile split VmRSS: the memory the process holds of
	// its own (heap, stacks, written data), and the pages of files it
	// maps, its executable first, which stay in the page cache when it
	// lets them go.
	RssAnon int64 `json:"rssanon_kib"`
	RssFile int64 `json:"rssfile_kib"`
	Rss     int64 `json:"rss_kib"`
	Pss     int64 `json:"pss_kib"`
}

// ReadMemory reads VmRSS, RssAnon and RssFile from one read of
// /proc/PID/status, and Rss and Pss from /proc/PID/smaps_rollup.
func ReadMemory(pid int) (Memory, error) {
	var m Memory
	status, err := os.ReadFile(ProcPath(pid, "status"))
	if err != nil {
		return m, err
	}
	fields := map[string]*int64{"VmRSS": &m.VmRSS, "RssAnon": &m.RssAnon, "RssFile": &m.RssFile}
	for line := range strings.SplitSeq(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		if to, ok := fields[k]; ok {
			*to = kB(v)
			delete(fields, k)
		}
	}
	for k := range fields {
		return m, fmt.Errorf("pid %d: no %s in status", pid, k)
	}
	b, err := os.ReadFile(ProcPath(pid, "smaps_rollup"))
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

// Switches is the sum of every thread's context switches.
type Switches struct {
	Voluntary    int64 `json:"voluntary"`
	Nonvoluntary int64 `json:"nonvoluntary"`
	Threads      int   `json:"threads"`
}

// Total is the voluntary and the nonvoluntary switches together.
func (s Switches) Total() int64 { return s.Voluntary + s.Nonvoluntary }

// Minus is the switches since an earlier reading o, with s's thread count.
func (s Switches) Minus(o Switches) Switches {
	return Switches{s.Voluntary - o.Voluntary, s.Nonvoluntary - o.Nonvoluntary, s.Threads}
}

// Plus is the switches and threads of two processes together.
func (s Switches) Plus(o Switches) Switches {
	return Switches{s.Voluntary + o.Voluntary, s.Nonvoluntary + o.Nonvoluntary, s.Threads + o.Threads}
}

// ReadSwitches sums the context switches of every thread of pid, from
// /proc/PID/task/*/status.
func ReadSwitches(pid int) (Switches, error) {
	tids, err := Tasks(pid)
	if err != nil {
		return Switches{}, err
	}
	s := Switches{Threads: len(tids)}
	for _, tid := range tids {
		b, err := os.ReadFile(ProcPath(pid, "task/"+strconv.Itoa(tid)+"/status"))
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

// ReadSchedNs is the CPU time of every thread of pid so far, to the
// nanosecond: the sum of the first field of /proc/PID/task/*/schedstat.
func ReadSchedNs(pid int) (int64, error) {
	tids, err := Tasks(pid)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, tid := range tids {
		b, err := os.ReadFile(ProcPath(pid, "task/"+strconv.Itoa(tid)+"/schedstat"))
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

// Niceness is this process's nice value, field 19 of /proc/self/stat.
func Niceness() (int, error) {
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
