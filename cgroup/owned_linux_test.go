package cgroup

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestOwnedFake: which writable cgroups Owned takes as tend's, on a
// directory laid out like a cgroupfs.
func TestOwnedFake(t *testing.T) {
	const dir = "sys/fs/cgroup"
	tests := []struct {
		name, self, procs string
		pid1, xattr       bool
		want              error // nil, ErrForeign or ErrNotOwned
	}{
		{name: "a container's cgroup namespace", self: "0::/\n", procs: "1\n7\n", pid1: true},
		{name: "a container's cgroup namespace, tend not PID 1", self: "0::/\n", procs: "1\n7\n"},
		{name: "PID 1 in a cgroup of its own", self: "0::/docker/abc\n", procs: "1\n", pid1: true},
		{name: "delegated by systemd", self: "0::/system.slice/tend.service\n", procs: "812\n", xattr: true},
		{name: "a host's service, not delegated", self: "0::/system.slice/tend.service\n", procs: "812\n", want: ErrNotOwned},
		{name: "a host's init.scope seen from a PID namespace", self: "0::/init.scope\n", procs: "0\n0\n1\n", pid1: true, want: ErrForeign},
		{name: "processes of another PID namespace in a container's", self: "0::/\n", procs: "1\n0\n", want: ErrForeign},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := strings.TrimSpace(strings.TrimPrefix(tt.self, "0::"))
			cg := filepath.Join(dir, path)
			files := cgroupFiles(cg, "cpu memory pids\n")
			files[cg+"/cgroup.procs"] = tt.procs
			root := fakeTree(t, files)
			if tt.xattr {
				if err := unix.Setxattr(filepath.Join(root, cg), "trusted.delegate", []byte("1"), 0); err != nil {
					t.Skipf("cannot set trusted.delegate here (root on a file system with xattrs needed): %v", err)
				}
			}
			var mi string
			if path == "/" {
				mi = v2Mountinfo
			} else {
				mi = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n"
			}
			s := DetectIn(root, strings.NewReader(mi), strings.NewReader(tt.self))
			if s.Err != nil {
				t.Fatalf("Detect: %v", s.Err)
			}
			err := s.Owned(tt.pid1)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Owned(pid1 %v) = %v, want %v", tt.pid1, err, tt.want)
			}
		})
	}
	// Not writable comes first.
	s := &System{Err: errRoot}
	if err := s.Owned(true); err != errRoot {
		t.Errorf("Owned with Err set: %v", err)
	}
}

// runOwned runs the owned helper in dir, in a PID namespace of its own
// when newPID is set (it is then its PID 1), and returns what it said.
func runOwned(t *testing.T, dir string, newPID bool) string {
	t.Helper()
	cmd := helperCmd("owned")
	var out strings.Builder
	cmd.Stdout = &out
	if newPID {
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	}
	inCgroup(t, cmd, dir)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("owned helper: %v, said %q", err, out.String())
	}
	return strings.TrimSpace(out.String())
}

// TestRealOwned: the kernel's cgroup.procs as a process of another PID
// namespace sees it (0 for every process outside it), and the
// delegation mark systemd sets, on real scratch cgroups.
func TestRealOwned(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, for PID namespaces and trusted xattrs")
	}
	t.Run("alone as PID 1", func(t *testing.T) {
		dir, _ := scratch(t)
		if got := runOwned(t, dir, true); got != "owned" {
			t.Errorf("PID 1 alone in its cgroup: %q, want owned", got)
		}
	})
	t.Run("PID 1 beside a process of the host", func(t *testing.T) {
		dir, _ := scratch(t)
		cmd := helperCmd("block")
		stdin, _ := cmd.StdinPipe()
		defer stdin.Close()
		inCgroup(t, cmd, dir)
		if got := runOwned(t, dir, true); !strings.Contains(got, ErrForeign.Error()) {
			t.Errorf("PID 1 beside pid %d of the host's namespace: %q, want %q", cmd.Process.Pid, got, ErrForeign)
		}
	})
	t.Run("not PID 1, not delegated", func(t *testing.T) {
		dir, _ := scratch(t)
		if got := runOwned(t, dir, false); !strings.Contains(got, ErrNotOwned.Error()) {
			t.Errorf("%q, want %q", got, ErrNotOwned)
		}
	})
	t.Run("delegated", func(t *testing.T) {
		dir, _ := scratch(t)
		if err := unix.Setxattr(dir, "trusted.delegate", []byte("1"), 0); err != nil {
			t.Fatalf("cgroupfs takes trusted xattrs (Linux 5.7, which cgroup.kill's 5.14 is past): %v", err)
		}
		if got := runOwned(t, dir, false); got != "owned" {
			t.Errorf("with trusted.delegate=1: %q, want owned", got)
		}
	})
}

// TestRealSignalOutside: a program whose daemon left its process group:
// the daemon gets the signal, the program (in the process group) does
// not.
func TestRealSignalOutside(t *testing.T) {
	tree := realTree(t)
	g, _ := tree.Group("web")
	out, w, _ := os.Pipe()
	defer out.Close()
	cmd := helperCmd("daemon")
	cmd.Stdout = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
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
	if err := g.SignalOutside(cmd.Process.Pid, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if n, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, 10000); n != 1 || err != nil {
		t.Errorf("the daemon did not die of its TERM: poll %d, %v", n, err)
	}
	// The program is the test's child: had it got TERM, it would be a
	// zombie by now (the daemon's death came after its signal).
	data, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.LastIndexByte(string(data), ')'); i < 0 || i+2 >= len(data) || data[i+2] == 'Z' {
		t.Errorf("the program, in the process group, got the signal too: %q", data)
	}
}
