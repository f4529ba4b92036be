// Package cgroup gives each supervised program a cgroup (v2) of its own
// where tend's cgroup is delegated to it, and reads what the kernel
// counts for a program: its CPU time, its memory, its OOM kills.
//
// The layout, under tend's own cgroup (the container's, in a container
// with a cgroup namespace):
//
//	<tend's cgroup>/             controllers enabled for the children
//	<tend's cgroup>/init.scope/  tend, and whatever else was there
//	<tend's cgroup>/<program>/   one per program instance
//
// tend moves itself into init.scope because a cgroup that hands
// controllers to its children may hold no process itself (cgroup v2's
// "no internal processes" rule).
//
// The steps, in the order the supervisor takes them: Detect what the
// machine offers; System.Setup makes the layout (or says why it cannot);
// Tree.Group makes a program's cgroup; Group.SetLimits writes its
// limits; Group.Start places each process there from its first
// instruction (clone3 with CLONE_INTO_CGROUP); Group.Kill, Freeze and
// Thaw act on every process in it, daemonized ones included; Group.Usage
// and Counter.Count read what the kernel counted; Group.Remove removes
// it once it is empty. Without a cgroup, ProcessGroupUsage reads the
// same numbers for a process group from /proc.
//
// Nothing here runs on its own: no goroutine, no timer, no file read
// until a caller asks. A Tree and its Groups belong to the goroutine
// that owns the processes (the supervisor's loop); WaitFrozen and
// WaitEmpty block, and may run on any goroutine: they read only the
// groups' paths.
package cgroup

import (
	"errors"
	"math"
	"strconv"
)

// The config keys a cgroup honours, as the warnings name them.
const (
	KeyMemoryMax = "memory_max"
	KeyCPUs      = "cpus"
	KeyPidsMax   = "pids_max"
)

// CPUPeriod is the cpu.max period tend writes, in microseconds: the
// kernel's default, and Docker's.
const CPUPeriod = 100000

// MinCPUs is the smallest cpus the kernel takes: a quota of 1 ms a
// period (cpu.max refuses less).
const MinCPUs = 0.01

// Limits are a program's cgroup limits. A zero field sets no limit:
// "max" is written, so a limit removed by a reload goes away.
type Limits struct {
	// MemoryMax is memory.max, in bytes.
	MemoryMax int64
	// CPUs is cpu.max as a number of CPUs: 0.5 is "50000 100000".
	CPUs float64
	// PidsMax is pids.max: how many processes and threads at most.
	PidsMax int64
}

// Keys are the config keys l sets, in a fixed order.
func (l Limits) Keys() []string {
	var keys []string
	for _, k := range limitKeys {
		if k.set(l) {
			keys = append(keys, k.key)
		}
	}
	return keys
}

// limitKey ties a config key to the controller and file that honour it.
type limitKey struct {
	key, controller, file string
	set                   func(Limits) bool
	// value is what to write: the limit, or "max" when it is not set.
	value func(Limits) (string, error)
}

var limitKeys = []limitKey{
	{KeyMemoryMax, "memory", "memory.max",
		func(l Limits) bool { return l.MemoryMax != 0 },
		func(l Limits) (string, error) {
			if l.MemoryMax == 0 {
				return "max", nil
			}
			if l.MemoryMax < 0 {
				return "", errors.New("negative")
			}
			return strconv.FormatInt(l.MemoryMax, 10), nil
		}},
	{KeyCPUs, "cpu", "cpu.max",
		func(l Limits) bool { return l.CPUs != 0 },
		func(l Limits) (string, error) { return cpuMax(l.CPUs) }},
	{KeyPidsMax, "pids", "pids.max",
		func(l Limits) bool { return l.PidsMax != 0 },
		func(l Limits) (string, error) {
			if l.PidsMax == 0 {
				return "max", nil
			}
			if l.PidsMax < 0 {
				return "", errors.New("negative")
			}
			return strconv.FormatInt(l.PidsMax, 10), nil
		}},
}

// maxCPUs keeps the quota in range of an int64 with room to spare; the
// kernel refuses far less (about 17 million CPUs' worth).
const maxCPUs = 1e9

// cpuMax is cpu.max for cpus: "quota period", with the quota rounded to
// the microsecond.
func cpuMax(cpus float64) (string, error) {
	switch {
	case cpus == 0:
		return "max " + strconv.Itoa(CPUPeriod), nil
	case math.IsNaN(cpus) || cpus < 0:
		return "", errors.New("not a positive number")
	case cpus < MinCPUs:
		return "", errors.New("below the 0.01 the kernel takes")
	case cpus > maxCPUs:
		return "", errors.New("too large")
	}
	quota := int64(math.Round(cpus * CPUPeriod))
	return strconv.FormatInt(quota, 10) + " " + strconv.Itoa(CPUPeriod), nil
}
