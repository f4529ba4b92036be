package config

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// privView is what the system running `tend check` lets a process of
// its own do, for the warnings of the resource keys: tend will start
// the program with what tend has, and the check runs as tend would.
type privView struct {
	root       bool   // euid 0
	effective  uint64 // capability sets, a bit per capability
	permitted  uint64
	bounding   uint64
	rlimits    map[int]unix.Rlimit // by resource
	nice       int
	oom        int
	oomUnknown bool
}

// readPrivView reads this process's view.
func readPrivView() privView {
	v := privView{root: os.Geteuid() == 0, rlimits: map[int]unix.Rlimit{}}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) == nil {
		v.effective = uint64(data[0].Effective) | uint64(data[1].Effective)<<32
		v.permitted = uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32
	}
	for c := range len(capNames) {
		if r, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err == nil && r == 1 {
			v.bounding |= 1 << c
		}
	}
	for _, r := range rlimitNames {
		var lim unix.Rlimit
		if unix.Getrlimit(r.resource, &lim) == nil {
			v.rlimits[r.resource] = lim
		}
	}
	if prio, err := unix.Getpriority(unix.PRIO_PROCESS, 0); err == nil {
		v.nice = 20 - prio // the system call's 40..1 for nice -20..19
	}
	b, err := os.ReadFile("/proc/self/oom_score_adj")
	if v.oom, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
		v.oomUnknown = true
	}
	return v
}

func (v privView) has(c Capability) bool { return v.effective&(1<<c) != 0 }

// resourceWarnings says what of p's resource keys this system would
// refuse, each with where it is: the start of such a program fails
// (docs/supervisor.md).
func resourceWarnings(p *Program, v privView, warn func(l loc, format string, args ...any)) {
	l := at("programs", p.Group)
	if !v.has(unix.CAP_SYS_RESOURCE) {
		for _, r := range p.Rlimits {
			if cur, ok := v.rlimits[r.Resource]; ok && r.Hard > cur.Max {
				warn(l.child("rlimits").child(r.Name),
					"hard limit %s is above this system's %s, and raising it takes CAP_SYS_RESOURCE: the program cannot start",
					FormatLimit(r.Hard), FormatLimit(cur.Max))
			}
		}
		if p.OOMScoreAdj != nil && !v.oomUnknown && *p.OOMScoreAdj < v.oom {
			warn(l.child("oom_score_adj"),
				"%d is below this system's %d, and lowering it takes CAP_SYS_RESOURCE: the program may not start", *p.OOMScoreAdj, v.oom)
		}
	}
	if p.Nice != nil && *p.Nice < v.nice && !v.has(unix.CAP_SYS_NICE) {
		// RLIMIT_NICE, the program's own if it sets one (set first),
		// allows down to 20 - its soft limit.
		limit := v.rlimits[unix.RLIMIT_NICE].Cur
		for _, r := range p.Rlimits {
			if r.Resource == unix.RLIMIT_NICE {
				limit = r.Soft
			}
		}
		if limit < 40 && int64(*p.Nice) < 20-int64(limit) {
			warn(l.child("nice"), "%d is below this system's %d, and lowering it takes CAP_SYS_NICE: the program cannot start",
				*p.Nice, v.nice)
		}
	}
	if p.Capabilities == nil {
		return
	}
	cl := l.child("capabilities")
	if !v.has(unix.CAP_SETPCAP) {
		warn(cl, "cutting the bounding set takes CAP_SETPCAP, which this system does not give: the program cannot start")
		return
	}
	var missing []string
	for _, c := range p.Capabilities {
		if v.bounding&(1<<c) == 0 || (!programRoot(p, v) && v.permitted&(1<<c) == 0) {
			missing = append(missing, c.String())
		}
	}
	if len(missing) > 0 {
		warn(cl, "this system does not give %s: the program cannot start", strings.Join(missing, ", "))
	}
}

// programRoot reports whether p runs as root: as tend, or as user 0 or
// "root". (A name that is root's under another name is not seen here.)
func programRoot(p *Program, v privView) bool {
	if p.User == nil {
		return v.root
	}
	return p.User.UID == 0 || p.User.Name == "root"
}
