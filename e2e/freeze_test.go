package e2e

// A freeze of the whole container (a freezer cgroup, as `docker pause`
// uses) is not time the programs had: tend and its programs frozen
// together, then thawed.

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// freezer is a cgroup of its own with a freezer: v1's freezer.state, or
// v2's cgroup.freeze.
type freezer struct {
	t   *testing.T
	dir string
	v2  bool
}

var cgSeq atomic.Int64

// newFreezer makes a freezer cgroup, removed when the test ends. No
// freezer is a failure, not a skip: this is what `docker pause` uses.
func newFreezer(t *testing.T) *freezer {
	t.Helper()
	root, v2 := freezerRoot()
	if root == "" {
		t.Fatal("no cgroup freezer: neither a cgroup v1 hierarchy with the freezer nor cgroup v2 is mounted")
	}
	f := &freezer{t: t, dir: filepath.Join(root, fmt.Sprintf("tend-e2e-%d-%d", os.Getpid(), cgSeq.Add(1))), v2: v2}
	if err := os.Mkdir(f.dir, 0o755); err != nil {
		t.Fatalf("creating a freezer cgroup: %v", err)
	}
	t.Cleanup(f.remove)
	if v2 {
		if _, err := os.Stat(filepath.Join(f.dir, "cgroup.freeze")); err != nil {
			t.Fatalf("cgroup v2 without cgroup.freeze (kernel before 5.2?): %v", err)
		}
	}
	return f
}

// freezerRoot finds the v1 freezer hierarchy, else the cgroup v2 one.
func freezerRoot() (root string, v2 bool) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", false
	}
	var unified string
	for l := range strings.SplitSeq(string(b), "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 {
			continue
		}
		switch {
		case g[0] == "cgroup" && slices.Contains(strings.Split(g[2], ","), "freezer"):
			return f[4], false
		case g[0] == "cgroup2" && unified == "":
			unified = f[4]
		}
	}
	return unified, unified != ""
}

// procs is the file a process writes to join the cgroup.
func (f *freezer) procs() string { return filepath.Join(f.dir, "cgroup.procs") }

func (f *freezer) set(frozen bool) error {
	file, val, done, want := "freezer.state", "THAWED", "freezer.state", "THAWED"
	if frozen {
		val, want = "FROZEN", "FROZEN"
	}
	if f.v2 {
		file, val, done, want = "cgroup.freeze", "0", "cgroup.events", "frozen 0"
		if frozen {
			val, want = "1", "frozen 1"
		}
	}
	if err := os.WriteFile(filepath.Join(f.dir, file), []byte(val), 0); err != nil {
		return err
	}
	// Freezing takes effect as each task next runs; the state says when
	// every one has stopped. The loop watches the kernel.
	for end := time.Now().Add(deadline); time.Now().Before(end); time.Sleep(time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(f.dir, done))
		if err != nil {
			return err
		}
		if slices.Contains(strings.Split(string(b), "\n"), want) {
			return nil
		}
	}
	return fmt.Errorf("%s: not %q within %v", f.dir, want, deadline)
}

func (f *freezer) freeze() {
	f.t.Helper()
	if err := f.set(true); err != nil {
		f.t.Fatal(err)
	}
}

func (f *freezer) thaw() {
	f.t.Helper()
	if err := f.set(false); err != nil {
		f.t.Fatal(err)
	}
}

// contains reports whether pid is in the cgroup.
func (f *freezer) contains(pid int) bool {
	b, _ := os.ReadFile(f.procs())
	return slices.Contains(strings.Fields(string(b)), strconv.Itoa(pid))
}

// remove thaws the cgroup, kills what is left in it and removes it.
func (f *freezer) remove() {
	f.set(false)
	for end := time.Now().Add(deadline); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(f.procs())
		if err != nil {
			break
		}
		pids := strings.Fields(string(b))
		for _, p := range pids {
			syscall.Kill(atoiDefault(p, 0), syscall.SIGKILL)
		}
		if len(pids) == 0 && os.Remove(f.dir) == nil {
			return
		}
		if time.Now().After(end) {
			break
		}
	}
	f.t.Errorf("cannot remove cgroup %s", f.dir)
}

// startFrozen starts tend inside f: a wrapper joins the cgroup and execs
// tend, so tend and all it starts are frozen together, as in a container.
func startFrozen(t *testing.T, f *freezer, cfg string) *svRun {
	t.Helper()
	s := startCtlWith(t, cfg, ctlRun{around: helper("cg-exec", f.procs())})
	// Runs first: a test that fails while frozen must thaw before the
	// harness kills what it started.
	t.Cleanup(func() { f.set(false) })
	if !f.contains(s.tendPid()) {
		t.Fatalf("tend (%d) is not in %s", s.tendPid(), f.dir)
	}
	return s
}

// TestFreeze: a freeze of the whole container (tend and its programs in
// one freezer cgroup, as `docker pause` does) is not time the programs
// had. SPEC: "a host-level freeze ... must not, on thaw, count as a
// failed health check or a too-short start"; stopwaitsecs likewise.
//
// Not parallel with other tests: the margins are a few hundred ms of
// tend time (tend's clock may be off by up to a 250 ms heartbeat), and
// the test is about a freeze, not CPU starvation. Its two cases sleep
// through their freezes side by side.
func TestFreeze(t *testing.T) {
	t.Run("Stopping", func(t *testing.T) {
		t.Parallel()
		freezeStopping(t)
	})
	t.Run("Probe", func(t *testing.T) {
		t.Parallel()
		freezeProbe(t)
	})
}

// freezeStopping: a program asked to stop needs 1.5 s of its own time,
// under a stopwaitsecs of 2 s. The container freezes 300 ms into that
// for 4 s. On thaw the program must get the rest of its time: it exits
// by itself, is not SIGKILLed, and tend exits 0.
func freezeStopping(t *testing.T) {
	f := newFreezer(t)
	cfg, _, _ := ctlConfig(t, `
[programs.slow]
command = [{self}, "slow-term", "-name", "slow", "-need", "1.5s"]
startsecs = 0
stopwaitsecs = 2
`, false)
	s := startFrozen(t, f, cfg)
	s.expect("slow ready")
	s.signal(syscall.SIGTERM)
	s.expect("slow got TERM")
	time.Sleep(300 * time.Millisecond) // into the program's shutdown: the subject of the test
	f.freeze()
	time.Sleep(4 * time.Second) // frozen: the subject of the test
	f.thaw()
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0: nothing should have needed SIGKILL", code)
	}
	if !slices.Contains(s.rest(), "slow done") {
		t.Errorf("slow never said it was done")
	}
	stopping, stopped := s.tl.mustFirst("slow", "STOPPING"), s.tl.mustFirst("slow", "STOPPED")
	if stopped.code() != 0 || stopped.Signal != "" {
		t.Errorf("%v, want exit_code 0: the program exited by itself", stopped)
	}
	if d := stopped.at.Sub(stopping.at); d < 5*time.Second {
		t.Errorf("stopped %v after TERM; the freeze alone was 4s: did it freeze?", d)
	}
	for _, e := range s.tl.events() {
		if strings.Contains(e.Message, "SIGKILL") {
			t.Errorf("SIGKILL for a program that got its time: %v", e)
		}
	}
	s.tl.waitMessage("", "the container was frozen for")
}

// freezeProbe: an exec probe needs 0.5 s of its own time; timeout 1 s,
// retries 1, on_unhealthy = "restart". The container freezes during a
// probe for 3 s. On thaw the probe finishes and passes: no unhealthy
// event, no restart.
func freezeProbe(t *testing.T) {
	f := newFreezer(t)
	cfg, dir, _ := ctlConfig(t, `
[programs.web]
command = ["sleep", "600"]
startsecs = 0

[programs.web.healthcheck]
exec = [{self}, "slow-probe", "{dir}/probe.sock", "500ms"]
interval = "600ms"
timeout = "1s"
retries = 1
on_unhealthy = "restart"
`, false)
	// Each probe says when it starts and ends.
	ln, err := net.Listen("unix", filepath.Join(dir, "probe.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	said := make(chan string, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					said <- sc.Text()
				}
			}()
		}
	}()
	probe := func() string {
		t.Helper()
		select {
		case l := <-said:
			return l
		case <-time.After(deadline):
			t.Fatalf("no word from a probe within %v", deadline)
		}
		return ""
	}

	s := startFrozen(t, f, cfg)
	for _, want := range []string{"start", "done"} {
		if l := probe(); !strings.HasPrefix(l, want+" ") {
			t.Fatalf("the first probe said %q, want %s", l, want)
		}
	}
	s.tl.waitMessage("web", "health")
	started := probe()
	if !strings.HasPrefix(started, "start ") {
		t.Fatalf("probe said %q, want start", started)
	}
	time.Sleep(50 * time.Millisecond) // into the probe: the subject of the test
	f.freeze()
	time.Sleep(3 * time.Second) // frozen: the subject of the test
	f.thaw()
	// The frozen probe ends, and the next starts once tend has judged it.
	if l, want := probe(), "done "+strings.TrimPrefix(started, "start "); l != want {
		t.Errorf("after the thaw a probe said %q, want %q: tend killed the frozen probe (as timed out?)", l, want)
	} else if l := probe(); !strings.HasPrefix(l, "start ") {
		t.Errorf("then a probe said %q, want the next start", l)
	}
	s.tl.waitMessage("", "the container was frozen for")
	if got := s.healthLines("web"); !slices.Equal(got, []string{"healthy"}) {
		t.Errorf("web's health: %v, want healthy and nothing else: a frozen probe is not a failed one", got)
	}
	if e, ok := s.tl.first("web", "STOPPING"); ok {
		t.Errorf("web was restarted: %v", e)
	}
	s.signal(syscall.SIGTERM)
	if code := s.finish(); code != 0 {
		t.Errorf("tend exited %d, want 0", code)
	}
}
