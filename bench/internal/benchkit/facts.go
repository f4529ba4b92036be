package benchkit

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Machine is what the numbers were measured on.
type Machine struct {
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
	// this session only, and a process that leads a session of its own
	// (the child of tend and of dumb-init, which call setsid, and every
	// supervised program) is in a group of its own.
	Autogroup bool `json:"autogroup"`
}

// machineFacts describes this machine, the tend binary and the versions
// of the Debian packages named (those not installed are left out). It
// takes a second, to measure how busy the machine is.
func machineFacts(tend string, packages []string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Packages: map[string]string{}}
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
	args := append([]string{"-W", "-f", "${Package} ${Version}\n"}, packages...)
	out, _ := exec.Command("dpkg-query", args...).Output()
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok {
			m.Packages[k] = v
		}
	}
	return m
}

// Markdown is the lines of a report that say what the run ran on:
// the machine, how busy it was, the niceness nice of the run, and tend.
func (m Machine) Markdown(nice int) string {
	return fmt.Sprintf("Machine: %d CPUs (%s), Linux %s, %s.  \n", m.CPUs, m.CPUModel, m.Kernel, m.Go) +
		fmt.Sprintf("Before the run: %.0f%% of CPU in use, load average %s. Every process of the run at nice %d; sched_autogroup %s.  \n",
			m.BusyPct, m.LoadAvg, nice, onOff(m.Autogroup)) +
		fmt.Sprintf("tend: %s.  \n", m.Tend)
}

// onOff is a setting's state.
func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// busy is the share of CPU time, over all CPUs, not spent idle during d.
func busy(d time.Duration) float64 {
	t0, i0 := cpuStat()
	time.Sleep(d)
	return busySince(t0, i0)
}

// cpuStat is the machine's CPU time so far, all of it and idle (with
// iowait), in ticks, from the first line of /proc/stat.
func cpuStat() (total, idle float64) {
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

// busySince is the share of CPU time in use since cpuStat said t0, i0.
func busySince(t0, i0 float64) float64 {
	t1, i1 := cpuStat()
	if t1 <= t0 {
		return 0
	}
	return 100 * (1 - (i1-i0)/(t1-t0))
}
