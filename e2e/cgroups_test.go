package e2e

// Per-program cgroups and OOM kills named, with tend as real PID 1
// (SPEC "Resources and privileges"): in a scratch cgroup v2 that is
// tend's alone (the container's cgroup, as far as tend can tell), a
// daemon that left its program's process group goes at the stop through
// cgroup.kill and pause is a real freeze; in a v1 memory cgroup with a
// small limit, a program that allocates until the kernel kills it is
// oom-killed in the log, the events, the status and /metrics; where the
// cgroupfs is read-only, one warning naming the keys, and
// cgroups = "required" is exit 2.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tend/api"
	"tend/cgroup"
)

func init() {
	moreHelpers["cg-daemon"] = cgDaemon
	moreHelpers["alloc-on-usr1"] = allocOnUSR1
	moreHelpers["ro-exec"] = roExec
}

// cgDaemon daemonizes a child as a classic daemon does: a child that
// calls setsid (leaving the program's process group) and forks the
// daemon, then exits, so that the daemon is reparented to tend. The
// daemon ignores TERM, says "daemon ready" and lives until killed. The
// program itself, once its intermediate child has exited, lives until a
// signal ends it (TERM does).
func cgDaemon(args []string) int {
	role := ""
	if len(args) > 0 {
		role = args[0]
	}
	exe, err := os.Executable() // self is the tests' alone
	if err != nil {
		fmt.Fprintln(os.Stderr, "cg-daemon:", err)
		return 1
	}
	switch role {
	case "":
		cmd := exec.Command(exe, "cg-daemon", "mid")
		cmd.Env = os.Environ()
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "cg-daemon:", err)
			return 1
		}
		for {
			unix.Pause()
		}
	case "mid":
		cmd := exec.Command(exe, "cg-daemon", "daemon")
		cmd.Env = os.Environ()
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "cg-daemon mid:", err)
			return 1
		}
		return 0
	case "daemon":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("daemon ready")
		for {
			unix.Pause()
		}
	}
	return 2
}

// allocOnUSR1 says "hog ready", and on SIGUSR1 takes memory a MiB at a
// time, touching every page, until the kernel kills it.
func allocOnUSR1([]string) int {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	fmt.Println("hog ready")
	<-c
	var hold [][]byte
	for {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		hold = append(hold, b)
	}
}

// roExec makes the mount at args[0] read-only in a mount namespace of
// its own and execs the rest of args: the cgroupfs as Docker gives it to
// a container.
func roExec(args []string) int {
	if len(args) < 2 {
		return 2
	}
	// The namespace is the thread's until the exec, which this thread
	// makes.
	runtime.LockOSThread()
	m := args[0]
	for _, err := range []error{
		unix.Unshare(unix.CLONE_NEWNS),
		unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""),
		unix.Mount(m, m, "", unix.MS_BIND, ""),
		unix.Mount("", m, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""),
	} {
		if err != nil {
			fmt.Fprintln(os.Stderr, "ro-exec:", err)
			return 1
		}
	}
	err := syscall.Exec(args[1], args[1:], os.Environ())
	fmt.Fprintln(os.Stderr, "ro-exec: exec:", err)
	return 1
}

// v2Scratch makes an empty cgroup v2 for one tend under the machine's
// v2 hierarchy, and at the end kills what is left in it and removes it
// and the cgroups tend made in it. No writable v2 hierarchy is a
// failure: these machines have one (/sys/fs/cgroup/unified).
func v2Scratch(t *testing.T) (dir string) {
	t.Helper()
	needRoot(t)
	sys := cgroup.Detect()
	if sys.Mount == "" {
		t.Fatalf("no cgroup v2 hierarchy mounted: %v", sys.Err)
	}
	dir = filepath.Join(sys.Mount, fmt.Sprintf("tend-e2e-cg-%d-%d", os.Getpid(), cgSeq.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var rm func(d string)
		rm = func(d string) {
			ents, _ := os.ReadDir(d)
			for _, e := range ents {
				if e.IsDir() {
					rm(filepath.Join(d, e.Name()))
				}
			}
			os.WriteFile(filepath.Join(d, "cgroup.freeze"), []byte("0"), 0)
			os.WriteFile(filepath.Join(d, "cgroup.kill"), []byte("1"), 0)
			for end := time.Now().Add(deadline); unix.Rmdir(d) == unix.EBUSY && time.Now().Before(end); {
				time.Sleep(10 * time.Millisecond) // the kill takes effect as each process next runs
			}
			if _, err := os.Stat(d); err == nil {
				t.Errorf("cleanup: cannot remove %s", d)
			}
		}
		rm(dir)
	})
	return dir
}

// cgPids are the pids in the cgroup at dir.
func cgPids(t *testing.T, dir string) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		out = append(out, atoi(f))
	}
	return out
}

// v2Of is pid's cgroup v2 path.
func v2Of(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			return p
		}
	}
	return ""
}

// TestCgroupsV2: tend as PID 1 alone in a cgroup v2 (the container's
// own, as far as it can tell) moves itself into init.scope and starts
// each program in a cgroup of its own; a stop kills, through
// cgroup.kill, a daemon that left its program's process group and
// ignores TERM; pause freezes a program for real (not stopped: its
// processes' state is not T, yet it prints nothing) and resume thaws it
// with no SIGCONT; status shows CPU time and memory; tend removes the
// programs' cgroups as it exits.
func TestCgroupsV2(t *testing.T) {
	t.Parallel()
	scratch := v2Scratch(t)
	cfg, _, sock := ctlConfig(t, `
[programs.daemon]
command = [{self}, "cg-daemon"]
startsecs = 0
stopwaitsecs = 1

[programs.ticker]
command = ["sh", "-c", "trap 'echo ticker got CONT' CONT; while :; do echo tick; sleep 0.05; done"]
startsecs = 0

[programs.plain]
type = "oneshot"
command = ["cat", "/proc/self/cgroup"]

[programs.privileged]
type = "oneshot"
command = ["cat", "/proc/self/cgroup"]
no_new_privs = true
`, false)
	s := startCtlWith(t, cfg, ctlRun{around: helper("cg-exec", filepath.Join(scratch, "cgroup.procs"))})
	s.tl.waitMessage("", "a cgroup per program")
	name := "/" + filepath.Base(scratch)
	if got := v2Of(t, s.tendPid()); got != name+"/init.scope" {
		t.Errorf("tend is in %s, want %s/init.scope", got, name)
	}
	s.expect("daemon ready")
	s.tl.waitState("ticker", "RUNNING")
	s.expect("tick")
	// In its cgroup from its first instruction, on both of spawn's
	// paths (syscall.ForkExec; internal/forkexec for no_new_privs): cat
	// reads its own cgroup as it starts.
	s.tl.waitState("plain", "COMPLETED")
	s.tl.waitState("privileged", "COMPLETED")
	for _, p := range []string{"plain", "privileged"} {
		if want := "0::" + name + "/" + p; !slices.Contains(s.out.texts(), want) {
			t.Errorf("%s did not start in its cgroup: no line %q in the programs' output", p, want)
		}
	}

	// The daemon: in its program's cgroup, outside its process group.
	daemonDir := filepath.Join(scratch, "daemon")
	var daemon int
	pids := cgPids(t, daemonDir)
	for _, p := range pids {
		if _, pg, err := procStat(p); err == nil && pg != p {
			daemon = p
		}
	}
	if len(pids) != 2 || daemon == 0 {
		t.Fatalf("the daemon program's cgroup holds %v: want the program and, outside its process group, the daemon", pids)
	}
	pidfd, err := unix.PidfdOpen(daemon, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	asked := time.Now()
	ctl(t, sock, "stop", "daemon").must(t, 0)
	stopped := s.tl.waitState("daemon", "STOPPED")
	if n, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, 0); n != 1 || err != nil {
		t.Errorf("the daemon (pid %d) outlived its program's stop", daemon)
	}
	if d := stopped.at.Sub(asked); d < time.Second {
		t.Errorf("STOPPED %v after ctl stop: the daemon ignores TERM, so only stopwaitsecs' cgroup.kill (1s) ends it", d)
	}
	if left := cgPids(t, daemonDir); len(left) != 0 {
		t.Errorf("the daemon program's cgroup still holds %v once STOPPED", left)
	}

	// Pause: a real freeze.
	tickerDir := filepath.Join(scratch, "ticker")
	o := ctl(t, sock, "pause", "ticker").must(t, 0)
	if b, _ := os.ReadFile(filepath.Join(tickerDir, "cgroup.events")); !strings.Contains(string(b), "frozen 1") {
		t.Errorf("pause answered (%s) before the cgroup was frozen: %q", o.stdout, b)
	}
	for _, p := range cgPids(t, tickerDir) {
		if st, _, err := procStat(p); err == nil && st == 'T' {
			t.Errorf("pid %d of the paused program is stopped (T): a SIGSTOP, not a freeze", p)
		}
	}
	ticks := func() int {
		n := 0
		for _, l := range s.out.texts() {
			if l == "tick" {
				n++
			}
		}
		return n
	}
	before := ticks()
	time.Sleep(500 * time.Millisecond) // frozen: the subject of the test
	if after := ticks(); after != before {
		t.Errorf("%d ticks while frozen", after-before)
	}
	ctl(t, sock, "resume", "ticker").must(t, 0)
	s.out.skip()
	for range 3 {
		s.expect("tick")
	}
	if slices.Contains(s.out.texts(), "ticker got CONT") {
		t.Error("resume sent SIGCONT")
	}

	// Usage, read as status asks: cpu.stat, and the resident sets (this
	// v2 hierarchy has no memory controller).
	st := ctlStatus(t, sock, "ticker")
	if st.CPUSeconds == nil || st.MemoryBytes == nil || *st.MemoryBytes == 0 {
		t.Errorf("ticker's usage: cpu %v, memory %v", st.CPUSeconds, st.MemoryBytes)
	}
	rows := statusTable(t, ctl(t, sock, "status").must(t, 0).stdout)
	if r := rows["ticker"]; r[8] == "-" || r[9] == "-" {
		t.Errorf("ctl status shows no CPU or MEM for ticker: %q", r)
	}
	if r := rows["daemon"]; r[8] != "-" || r[9] != "-" {
		t.Errorf("ctl status shows usage for daemon, STOPPED: %q", r)
	}

	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 1 {
		t.Errorf("tend exited %d, want 1: the daemon had to be killed", code)
	}
	for _, d := range []string{daemonDir, tickerDir} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s is still there after tend exited", d)
		}
	}
}

// v1MemoryScratch makes a v1 memory cgroup with a limit of limit bytes
// (memory and swap) under the tests' own, removed at the end. No v1
// memory controller is a failure: these machines have one.
func v1MemoryScratch(t *testing.T, limit int) string {
	t.Helper()
	needRoot(t)
	parent := cgroup.Detect().V1Memory
	if parent == "" {
		t.Fatal("no cgroup v1 memory controller mounted")
	}
	dir := filepath.Join(parent, fmt.Sprintf("tend-e2e-oom-%d-%d", os.Getpid(), cgSeq.Add(1)))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for end := time.Now().Add(deadline); ; time.Sleep(10 * time.Millisecond) {
			for _, p := range cgPids(t, dir) {
				syscall.Kill(p, syscall.SIGKILL)
			}
			if unix.Rmdir(dir) == nil {
				return
			}
			if time.Now().After(end) {
				t.Errorf("cleanup: cannot remove %s", dir)
				return
			}
		}
	})
	for _, f := range []string{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"} {
		err := os.WriteFile(filepath.Join(dir, f), []byte(strconv.Itoa(limit)), 0)
		if err != nil && !(f == "memory.memsw.limit_in_bytes" && os.IsNotExist(err)) {
			t.Fatalf("%s: %v", f, err)
		}
	}
	return dir
}

// oomKills reads oom_kill from a v1 cgroup's memory.oom_control.
func v1OOMKills(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "oom_kill "); ok {
			return atoi(v)
		}
	}
	t.Fatalf("no oom_kill in %s/memory.oom_control: %q", dir, b)
	return 0
}

// TestOOMKilled: tend as PID 1 in a fresh v1 memory cgroup limited to
// 64 MiB (a container run with -m 64m on a v1 host), and a program that
// allocates until the kernel kills it: the program is EXITED with reason
// oom-killed in tend's log, in the events stream and in status, and
// tend_oom_kills_total counts it.
func TestOOMKilled(t *testing.T) {
	t.Parallel()
	mem := v1MemoryScratch(t, 64<<20)
	cfg, _, sock := ctlConfig(t, `metrics = "127.0.0.1:0"

[programs.hog]
command = [{self}, "alloc-on-usr1"]
startsecs = 0
autorestart = "never"
# The kernel's choice among the cgroup's processes, whatever tend's own
# size (a race-built tend is several times its usual).
oom_score_adj = 1000
`, false)
	s := startCtlWith(t, cfg, ctlRun{around: helper("cg-exec", filepath.Join(mem, "cgroup.procs"))})
	var listening struct {
		Metrics string `json:"metrics"`
	}
	if ev := s.tl.waitMessage("", "metrics listening"); json.Unmarshal([]byte(ev.line), &listening) != nil || listening.Metrics == "" {
		t.Fatalf("no address in %v", ev)
	}
	s.expect("hog ready")
	events := watchEvents(t, sock, "hog")
	before := v1OOMKills(t, mem)
	ctl(t, sock, "signal", "USR1", "hog").must(t, 0)

	exited := s.tl.waitState("hog", "EXITED")
	if exited.Reason != "oom-killed" || exited.code() != 137 {
		t.Errorf("tend's log: %v, want reason oom-killed, exit_code 137", exited)
	}
	ev := events.waitFrom(0, "hog EXITED", func(e event) bool { return e.Program == "hog" && e.State == "EXITED" })
	if ev.Reason != "oom-killed" {
		t.Errorf("the events stream: %v, want reason oom-killed", ev)
	}
	var st api.Status
	if err := json.Unmarshal([]byte(ctlStatusJSON(t, sock, "hog")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Reason != "oom-killed" || st.OOMKills != 1 {
		t.Errorf("status: reason %q, oom_kills %d; want oom-killed, 1", st.Reason, st.OOMKills)
	}
	if code, body := httpDo(t, "GET", "http://"+listening.Metrics+"/metrics"); code != 200 || !strings.Contains(body, `tend_oom_kills_total{program="hog"} 1`+"\n") {
		t.Errorf("GET /metrics: %d, no tend_oom_kills_total of 1 for hog:\n%s", code, body)
	}
	if after := v1OOMKills(t, mem); after != before+1 {
		t.Errorf("the cgroup's oom_kill went from %d to %d: want one more", before, after)
	}

	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d", code)
	}
}

// ctlStatusJSON is `tend ctl --json status NAME`'s one program, as JSON.
func ctlStatusJSON(t *testing.T, sock, name string) string {
	t.Helper()
	o := ctl(t, sock, "--json", "status", name).must(t, 0)
	var progs []json.RawMessage
	if err := json.Unmarshal([]byte(o.stdout), &progs); err != nil || len(progs) != 1 {
		t.Fatalf("ctl --json status %s: %v\n%s", name, err, o.stdout)
	}
	return string(progs[0])
}

// TestCgroupsNotHonoured: tend as PID 1 where it may not have cgroups
// of its own: one warning at start naming the keys it cannot honour,
// and the program runs without them; cgroups = "required" makes that a
// start error, exit 2, and no program runs. Where: a scratch cgroup v2
// that is tend's alone, in a mount namespace where the cgroupfs is
// read-only (Docker's default); and the machine's cgroup, which holds
// processes of other PID namespaces than tend's.
func TestCgroupsNotHonoured(t *testing.T) {
	t.Parallel()
	mount := cgroup.Detect().Mount
	cases := []struct {
		name   string
		around func(t *testing.T) []string
		why    []string // one of these says why
	}{
		{"read-only", func(t *testing.T) []string {
			return append(helper("cg-exec", filepath.Join(v2Scratch(t), "cgroup.procs")), helper("ro-exec", mount)...)
		}, []string{"read-only"}},
		// Here it holds processes of other PID namespaces; on a machine
		// whose tests run in its root cgroup, that one.
		{"the machine's cgroup", func(*testing.T) []string { return nil }, []string{cgroup.ErrForeign.Error(), "root cgroup of the machine"}},
	}
	says := func(s string, why []string) bool {
		return slices.ContainsFunc(why, func(w string) bool { return strings.Contains(s, w) })
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			body := `
[programs.web]
command = ["sh", "-c", "echo web started; exec sleep 600"]
startsecs = 0
memory_max = "64MiB"
cpus = 0.5
pids_max = 64
`
			cfg, _ := svConfig(t, body)
			s := startSv(t, cfg, svOptions{around: c.around(t)})
			s.tl.waitState("web", "RUNNING")
			s.expect("web started")
			var warnings []event
			for _, e := range s.tl.events() {
				if e.Level == "warn" {
					warnings = append(warnings, e)
				}
			}
			var w struct {
				Keys     []string `json:"keys"`
				Programs []string `json:"programs"`
				Error    string   `json:"error"`
			}
			if len(warnings) != 1 || json.Unmarshal([]byte(warnings[0].line), &w) != nil {
				t.Fatalf("want one warning, got %v", warnings)
			}
			if !slices.Equal(w.Keys, []string{"memory_max", "cpus", "pids_max"}) || !slices.Equal(w.Programs, []string{"web"}) || !says(w.Error, c.why) {
				t.Errorf("the warning: %s; want the keys memory_max, cpus, pids_max of web, and why (%s)", warnings[0].line, c.why)
			}
			s.signal(syscall.SIGTERM)
			if code := s.finish(); code != 0 {
				t.Errorf("tend exited %d", code)
			}

			cfg, _ = svConfig(t, "cgroups = \"required\"\n"+body)
			s = startSv(t, cfg, svOptions{around: c.around(t)})
			if code := s.finish(); code != 2 {
				t.Errorf("cgroups = required: tend exited %d, want 2", code)
			}
			e := s.tl.waitMessage("", `cgroups = "required"`)
			if e.Level != "error" || !says(e.line, c.why) {
				t.Errorf("cgroups = required: %v, want an error saying why (%s)", e, c.why)
			}
			if slices.Contains(s.output(), "web started") {
				t.Error("cgroups = required: web ran")
			}
		})
	}
}
