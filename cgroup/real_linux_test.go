package cgroup

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Tests against the kernel's cgroup v2 hierarchy, in scratch cgroups
// under the test process's own (scratch). They need root (or a
// delegated cgroup) and a cgroup v2 mount, and say so in a skip when
// there is none.

// realSystem is Detect's answer for the scratch cgroup at path, as a
// tend running there would get it: the real mountinfo, and path as its
// own cgroup.
func realSystem(t *testing.T, path string) *System {
	t.Helper()
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer mi.Close()
	return DetectIn("", mi, strings.NewReader("0::"+path+"\n"))
}

// TestRealRootRefused: the machine's root cgroup (the tests' own here)
// is not tend's to rearrange.
func TestRealRootRefused(t *testing.T) {
	s := v2ForTests(t)
	if exists(filepath.Join(s.Dir, "cgroup.type")) {
		t.Skipf("the tests run in %s, not in the root cgroup: nothing to test here", s.Path)
	}
	if !errors.Is(s.Err, errRoot) {
		t.Errorf("Err = %v, want %v", s.Err, errRoot)
	}
	if _, err := s.Setup(); err == nil {
		t.Error("Setup in the root cgroup: no error")
	}
}

// TestRealSetup: Setup moves every process of tend's cgroup into
// init.scope, and enables what the cgroup has of cpu, memory, pids.
func TestRealSetup(t *testing.T) {
	dir, path := scratch(t)
	var cmds []*exec.Cmd
	for range 3 {
		cmd := helperCmd("block")
		stdin, _ := cmd.StdinPipe()
		t.Cleanup(func() { stdin.Close() })
		inCgroup(t, cmd, dir)
		cmds = append(cmds, cmd)
	}
	s := realSystem(t, path)
	if s.Err != nil || s.Dir != dir {
		t.Fatalf("Detect: Dir %q, Err %v", s.Dir, s.Err)
	}
	tree, err := s.Setup()
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range cmds {
		if got := cgroupOf(t, cmd.Process.Pid); got != path+"/"+LeafName {
			t.Errorf("pid %d is in %s after Setup", cmd.Process.Pid, got)
		}
	}
	if got := read(t, filepath.Join(dir, "cgroup.procs")); got != "" {
		t.Errorf("tend's cgroup still holds %q", got)
	}
	// What the kernel says is enabled is what Setup says it enabled.
	var want []string
	for _, c := range strings.Fields(read(t, filepath.Join(dir, "cgroup.subtree_control"))) {
		if slices.Contains(wanted, c) {
			want = append(want, c)
		}
	}
	if !slices.Equal(tree.Controllers(), want) {
		t.Errorf("Controllers %q, the kernel says %q", tree.Controllers(), want)
	}
	for _, c := range wanted {
		if slices.Contains(s.Controllers, c) != slices.Contains(want, c) {
			t.Errorf("%s: available %v, enabled %v", c, slices.Contains(s.Controllers, c), slices.Contains(want, c))
		}
	}
	t.Logf("controllers available here: %q; enabled: %q; missing for all limits: %q", s.Controllers, tree.Controllers(),
		tree.Missing(Limits{MemoryMax: 1, CPUs: 1, PidsMax: 1}))
	if kernelAtLeast(5, 14) != tree.CanKill() || kernelAtLeast(5, 2) != tree.CanFreeze() {
		t.Errorf("CanKill %v, CanFreeze %v on this kernel", tree.CanKill(), tree.CanFreeze())
	}
	// The limits: those whose controller is there are written (and
	// read back as the kernel has them); the others are named.
	g, err := tree.Group("web")
	if err != nil {
		t.Fatal(err)
	}
	l := Limits{MemoryMax: 64 << 20, CPUs: 0.5, PidsMax: 64}
	miss, err := g.SetLimits(l)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(miss, tree.Missing(l)) {
		t.Errorf("SetLimits missing %q, the tree says %q", miss, tree.Missing(l))
	}
	for _, k := range limitKeys {
		if slices.Contains(miss, k.key) {
			continue
		}
		v, _ := k.value(l)
		if got := strings.TrimSpace(read(t, filepath.Join(g.Dir(), k.file))); got != v {
			t.Errorf("%s = %q, want %q", k.file, got, v)
		}
	}
}

// TestRealSetupItself: the detect helper is tend in a cgroup of its
// own: the real Detect from /proc/self, and Setup moves the process
// itself.
func TestRealSetupItself(t *testing.T) {
	dir, path := scratch(t)
	r := runDetect(t, helperCmd("detect"), dir)
	if r.Err != "" || r.Setup != "" || r.Dir != dir {
		t.Fatalf("the helper said %+v", r)
	}
	if !exists(filepath.Join(dir, LeafName)) {
		t.Fatal("no init.scope")
	}
	if got := read(t, filepath.Join(dir, "cgroup.procs")); got != "" {
		t.Errorf("%s still holds %q", path, got)
	}
}

// runDetect runs the detect helper in dir and returns its report.
func runDetect(t *testing.T, cmd *exec.Cmd, dir string) detectReport {
	t.Helper()
	var out strings.Builder
	cmd.Stdout = &out
	inCgroup(t, cmd, dir)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("detect helper: %v, said %q", err, out.String())
	}
	var r detectReport
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
		t.Fatalf("detect helper said %q: %v", out.String(), err)
	}
	return r
}

// TestRealNotWritableReadOnly: a cgroupfs mounted read-only, as Docker
// mounts it in a container by default. The helper remounts the v2
// hierarchy read-only in a mount namespace of its own.
func TestRealNotWritableReadOnly(t *testing.T) {
	dir, _ := scratch(t)
	cmd := helperCmd("detect")
	cmd.Env = append(cmd.Env, "TEND_CGROUP_RO="+v2ForTests(t).Mount)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	r := runDetect(t, cmd, dir)
	if !strings.Contains(r.Err, "read-only file system") || !strings.Contains(r.Err, "read-only: the cgroupfs of a container") {
		t.Errorf("Err = %q, want it to say read-only", r.Err)
	}
	if r.Setup != r.Err {
		t.Errorf("Setup said %q, want Detect's %q", r.Setup, r.Err)
	}
	if exists(filepath.Join(dir, LeafName)) {
		t.Error("init.scope was made")
	}
}

// TestRealNotWritableNonRoot: tend as another user, in a cgroup that is
// root's (not delegated); then the same cgroup delegated to that user
// the way systemd does it (Delegate=yes: the directory and its
// cgroup.procs, cgroup.subtree_control and cgroup.threads are the
// user's), where the same helper sets up.
func TestRealNotWritableNonRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run a helper as another user")
	}
	const nobody = 65534
	dir, path := scratch(t)
	bin := publicCopy(t)
	asNobody := func() *exec.Cmd {
		cmd := helperCmd("detect")
		cmd.Path = bin
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		return cmd
	}
	r := runDetect(t, asNobody(), dir)
	if !strings.Contains(r.Err, "permission denied") || !strings.Contains(r.Err, "not delegated") {
		t.Errorf("Err = %q, want permission denied, not delegated", r.Err)
	}
	if r.Setup != r.Err || exists(filepath.Join(dir, LeafName)) {
		t.Errorf("Setup said %q; init.scope made: %v", r.Setup, exists(filepath.Join(dir, LeafName)))
	}

	for _, p := range []string{"", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"} {
		if err := os.Chown(filepath.Join(dir, p), nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	cmd := asNobody()
	r = runDetect(t, cmd, dir)
	if r.Err != "" || r.Setup != "" {
		t.Fatalf("delegated: the helper said %+v", r)
	}
	if got := read(t, filepath.Join(dir, "cgroup.procs")); got != "" {
		t.Errorf("%s still holds %q", path, got)
	}
	if !exists(filepath.Join(dir, LeafName)) {
		t.Error("delegated: no init.scope")
	}
}

// publicCopy is the test binary where another user may run it (go
// test's build directory is root's alone).
func publicCopy(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "tend-cgroup-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(d, "cgroup.test")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// realTree is a Tree set up in a scratch cgroup.
func realTree(t *testing.T) *Tree {
	t.Helper()
	_, path := scratch(t)
	tree, err := realSystem(t, path).Setup()
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// startIn starts cmd in g through Group.Start, as tend's spawn would.
func startIn(t *testing.T, g *Group, cmd *exec.Cmd) {
	t.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	_, err := g.Start(cmd.SysProcAttr, func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	reapAtEnd(t, cmd)
}

// TestRealStart: a program started through Group.Start is in its
// cgroup from its first instruction: the helper reads its own cgroup
// before anything else and says it.
func TestRealStart(t *testing.T) {
	tree := realTree(t)
	g, err := tree.Group("web:0")
	if err != nil {
		t.Fatal(err)
	}
	out, w, _ := os.Pipe()
	defer out.Close()
	cmd := helperCmd("cgroup")
	cmd.Stdout = w
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	startIn(t, g, cmd)
	w.Close()
	want := strings.TrimPrefix(g.Dir(), Detect().Mount)
	if got := readLine(t, out, 10*time.Second); got != want {
		t.Errorf("the program's first look: in %q, want %q", got, want)
	}
	if tree.noCloneInto {
		t.Error("clone3 into the cgroup was refused here")
	}
	if cmd.SysProcAttr.UseCgroupFD || cmd.SysProcAttr.CgroupFD != 0 {
		t.Error("Start left its cgroup fd in the SysProcAttr")
	}
}

// TestRealStartFallback: where clone3 is refused with ENOSYS (Docker's
// seccomp profile, played by the fork function here), Start forks
// without it and moves the pid in, and does so from then on.
func TestRealStartFallback(t *testing.T) {
	tree := realTree(t)
	g, _ := tree.Group("web")
	forks := 0
	start := func(cmd *exec.Cmd) int {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
		pid, err := g.Start(cmd.SysProcAttr, func() (int, error) {
			forks++
			if cmd.SysProcAttr.UseCgroupFD {
				return 0, os.NewSyscallError("clone3", unix.ENOSYS)
			}
			if err := cmd.Start(); err != nil {
				return 0, err
			}
			return cmd.Process.Pid, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		reapAtEnd(t, cmd)
		return pid
	}
	for i, wantForks := range []int{2, 3} {
		cmd := helperCmd("block")
		stdin, _ := cmd.StdinPipe()
		defer stdin.Close()
		pid := start(cmd)
		if forks != wantForks {
			t.Errorf("start %d: %d forks in all, want %d", i, forks, wantForks)
		}
		if got, want := cgroupOf(t, pid), strings.TrimPrefix(g.Dir(), Detect().Mount); got != want {
			t.Errorf("start %d: in %s, want %s", i, got, want)
		}
	}
	if !tree.noCloneInto {
		t.Error("the tree did not remember that clone3 was refused")
	}
}

// TestRealKill: a program that daemonized a child (setsid: out of its
// process group, which a kill(-pgid) would miss) is killed whole: with
// cgroup.kill, and with the pid-by-pid fallback of older kernels.
func TestRealKill(t *testing.T) {
	for _, viaFile := range []bool{true, false} {
		name := "cgroup.kill"
		if !viaFile {
			name = "pids"
		}
		t.Run(name, func(t *testing.T) {
			tree := realTree(t)
			if viaFile && !tree.CanKill() {
				t.Skip("no cgroup.kill on this kernel (Linux 5.14)")
			}
			tree.canKill = viaFile
			g, _ := tree.Group("web")
			out, w, _ := os.Pipe()
			defer out.Close()
			cmd := helperCmd("daemon")
			cmd.Stdout = w
			startIn(t, g, cmd)
			w.Close()
			daemon, err := strconv.Atoi(readLine(t, out, 10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			pidfd, err := unix.PidfdOpen(daemon, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(pidfd)
			if st := statOf(t, daemon); st.pgrp == cmd.Process.Pid {
				t.Fatalf("the daemon is still in the program's process group %d", st.pgrp)
			}

			if err := g.Kill(); err != nil {
				t.Fatal(err)
			}
			if ws := waitExit(t, cmd, 10*time.Second); ws.Signal() != syscall.SIGKILL {
				t.Errorf("the program ended with %v, want killed by SIGKILL", ws)
			}
			// The daemon is not the test's child: its pidfd turns
			// readable when it exits.
			if n, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, 10000); n != 1 || err != nil {
				t.Errorf("the daemon did not exit: poll %d, %v", n, err)
			}
			if err := WaitEmpty(time.Now().Add(10*time.Second), g); err != nil {
				t.Error(err)
			}
			if err := g.Remove(); err != nil {
				t.Error(err)
			}
			if exists(g.Dir()) {
				t.Error("the group is still there after Remove")
			}
		})
	}
}

func statOf(t *testing.T, pid int) statEntry {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	st, ok := parseStat(data)
	if !ok {
		t.Fatalf("/proc/%d/stat: %q", pid, data)
	}
	return st
}

// TestRealRemoveBusy: a group with a process in it is not removed.
func TestRealRemoveBusy(t *testing.T) {
	tree := realTree(t)
	g, _ := tree.Group("web")
	cmd := helperCmd("block")
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	startIn(t, g, cmd)
	if err := g.Remove(); !errors.Is(err, ErrBusy) {
		t.Errorf("Remove of a busy group: %v", err)
	}
	if up, err := g.Populated(); !up || err != nil {
		t.Errorf("Populated = %v, %v", up, err)
	}
}

// TestRealFreeze: a frozen program runs nothing (a byte sent to it is
// not echoed) and its parent sees no stop (as it would with SIGSTOP);
// thawed, it goes on where it was.
func TestRealFreeze(t *testing.T) {
	tree := realTree(t)
	if !tree.CanFreeze() {
		t.Skip("no cgroup.freeze on this kernel (Linux 5.2)")
	}
	g, _ := tree.Group("web")
	out, w, _ := os.Pipe()
	defer out.Close()
	cmd := helperCmd("echo")
	cmd.Stdout = w
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	startIn(t, g, cmd)
	w.Close()
	echo := func(b byte, within time.Duration) error {
		stdin.Write([]byte{b})
		out.SetReadDeadline(time.Now().Add(within))
		var got [1]byte
		if _, err := out.Read(got[:]); err != nil {
			return err
		}
		if got[0] != b {
			t.Fatalf("echoed %q, want %q", got[0], b)
		}
		return nil
	}
	if err := echo('a', 10*time.Second); err != nil {
		t.Fatal(err)
	}

	if err := g.Freeze(); err != nil {
		t.Fatal(err)
	}
	if err := WaitFrozen(time.Now().Add(10*time.Second), g); err != nil {
		t.Fatal(err)
	}
	if frozen, err := g.Frozen(); !frozen || err != nil {
		t.Fatalf("Frozen = %v, %v after WaitFrozen", frozen, err)
	}
	// An absence can only be watched for a while: 200ms, ample for an
	// echo a running process gives in microseconds.
	if err := echo('b', 200*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a frozen program echoed: %v", err)
	}
	var ws unix.WaitStatus
	if pid, err := unix.Wait4(cmd.Process.Pid, &ws, unix.WNOHANG|unix.WUNTRACED|unix.WCONTINUED, nil); pid != 0 || err != nil {
		t.Errorf("the parent saw a state change of its frozen child: pid %d, status %v, %v", pid, ws, err)
	}

	if err := g.Thaw(); err != nil {
		t.Fatal(err)
	}
	out.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got [1]byte
	if _, err := out.Read(got[:]); err != nil || got[0] != 'b' {
		t.Fatalf("thawed, it echoed %q, %v; want the 'b' it was sent while frozen", got[0], err)
	}
	if frozen, _ := g.Frozen(); frozen {
		t.Error("still frozen after Thaw")
	}
}

// TestRealUsage: a program that burnt 100ms of CPU and holds 16 MiB,
// read through its cgroup and through its process group.
func TestRealUsage(t *testing.T) {
	tree := realTree(t)
	g, _ := tree.Group("web")
	out, w, _ := os.Pipe()
	defer out.Close()
	cmd := helperCmd("burn")
	cmd.Stdout = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	startIn(t, g, cmd)
	w.Close()
	if got := readLine(t, out, 30*time.Second); got != "ready" {
		t.Fatalf("the helper said %q", got)
	}
	u, err := g.Usage()
	if err != nil {
		t.Fatal(err)
	}
	memSource := "memory.current"
	if !exists(filepath.Join(g.Dir(), "memory.current")) {
		memSource = "the members' resident sets (no memory controller)"
	}
	t.Logf("cgroup: %+v, memory from %s", u, memSource)
	if u.CPU < 100*time.Millisecond || u.CPU > time.Minute || u.Memory < 16<<20 || u.Memory > 1<<30 {
		t.Errorf("cgroup usage %+v: want CPU ≥ 100ms and memory ≥ 16 MiB", u)
	}
	pg, err := ProcessGroupUsage(cmd.Process.Pid, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	p := pg[cmd.Process.Pid]
	t.Logf("process group: %+v", p)
	// /proc/PID/stat has whole clock ticks, utime and stime each cut
	// down to one: up to two ticks short of what getrusage said.
	tick := time.Second / time.Duration(clockTicks())
	if p.CPU < 100*time.Millisecond-2*tick || p.CPU > time.Minute || p.Memory < 16<<20 || p.Memory > 1<<30 {
		t.Errorf("process group usage %+v: want CPU ≥ 100ms (less two ticks) and memory ≥ 16 MiB", p)
	}
	if pg[1<<30] != (Usage{}) {
		t.Errorf("a process group with no members: %+v", pg[1<<30])
	}
}
