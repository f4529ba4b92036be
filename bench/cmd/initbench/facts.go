package main

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// binary is one init's executable on disk.
type binary struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	Static bool   `json:"static"`
	// Needed lists the shared libraries a dynamic binary loads; their
	// size is not counted in Bytes.
	Needed []string `json:"needed,omitempty"`
}

func measureSizes(specs []initSpec) ([]binary, error) {
	var out []binary
	bins := make([]initSpec, 0, len(specs)+1)
	bins = append(bins, specs...)
	bins = append(bins, initSpec{Name: "tini-static", Path: "/usr/bin/tini-static"})
	for _, s := range bins {
		st, err := os.Stat(s.Path)
		if err != nil {
			return nil, err
		}
		f, err := elf.Open(s.Path)
		if err != nil {
			return nil, err
		}
		b := binary{Name: s.Name, Path: s.Path, Bytes: st.Size(), Static: true}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				b.Static = false
			}
		}
		b.Needed, _ = f.ImportedLibraries()
		f.Close()
		out = append(out, b)
	}
	return out, nil
}

// machine is what the numbers were measured on.
type machine struct {
	CPUs     int               `json:"cpus"`
	CPUModel string            `json:"cpu_model"`
	Kernel   string            `json:"kernel"`
	Go       string            `json:"go"`
	Tend     string            `json:"tend"`
	Packages map[string]string `json:"packages"`
	// LoadAvg is /proc/loadavg when the run started, and BusyPct the
	// share of all CPUs in use over the second before it: other work on
	// the machine shows up as noise, in p99s first.
	LoadAvg string  `json:"loadavg"`
	BusyPct float64 `json:"busy_pct"`
	// Autogroup is kernel.sched_autogroup_enabled: when on, each session
	// is scheduled as a group, so nice -20 helps against other work in
	// this session only, and tend and dumb-init (whose child calls
	// setsid) put their child in a group of its own.
	Autogroup bool `json:"autogroup"`
}

func machineFacts(tend string) machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Packages: map[string]string{}}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/sched_autogroup_enabled"); err == nil {
		m.Autogroup = strings.TrimSpace(string(b)) == "1"
	}
	m.BusyPct = busy(time.Second)
	if b, err := exec.Command(tend, "version").Output(); err == nil {
		m.Tend = strings.TrimSpace(string(b))
	}
	if b, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Tend += " (tree at commit " + strings.TrimSpace(string(b)) + ", plus any uncommitted changes)"
	}
	out, _ := exec.Command("dpkg-query", "-W", "-f", "${Package} ${Version}\n",
		"tini", "dumb-init", "catatonit", "hyperfine", "util-linux").Output()
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			m.Packages[k] = v
		}
	}
	return m
}

// busy is the share of CPU time, over all CPUs, not spent idle during d.
func busy(d time.Duration) float64 {
	read := func() (total, idle float64) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0
		}
		line, _, _ := strings.Cut(string(b), "\n")
		for i, f := range strings.Fields(line)[1:] {
			v, _ := strconv.ParseFloat(f, 64)
			total += v
			if i == 3 || i == 4 { // idle, iowait
				idle += v
			}
		}
		return total, idle
	}
	t0, i0 := read()
	time.Sleep(d)
	t1, i1 := read()
	if t1 <= t0 {
		return 0
	}
	return 100 * (1 - (i1-i0)/(t1-t0))
}
