package supervisor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"tend/cgroup"
)

// scratchTree is a cgroup.Tree set up in a new cgroup v2 under the
// test's own, removed at the end. These machines have a writable v2
// hierarchy (/sys/fs/cgroup/unified): none is a failure.
func scratchTree(t *testing.T) *cgroup.Tree {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test makes cgroups: it needs root")
	}
	own := cgroup.Detect()
	if own.Dir == "" {
		t.Fatalf("no cgroup v2 to make a scratch cgroup in: %v", own.Err)
	}
	name := fmt.Sprintf("tend-spawn-test-%d", os.Getpid())
	dir := filepath.Join(own.Dir, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.IsDir() {
				unix.Rmdir(filepath.Join(dir, e.Name()))
			}
		}
		if err := unix.Rmdir(dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer mi.Close()
	sys := cgroup.DetectIn("", mi, strings.NewReader("0::"+strings.TrimSuffix(own.Path, "/")+"/"+name+"\n"))
	tree, err := sys.Setup()
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// TestSpawnInCgroup: on both of spawn's paths (syscall.ForkExec, and
// internal/forkexec for a program with privileges), the process starts
// in the cgroup its Command names: cat reads its own cgroup as it
// starts.
func TestSpawnInCgroup(t *testing.T) {
	tree := scratchTree(t)
	mount := cgroup.Detect().Mount
	for _, privileged := range []bool{false, true} {
		t.Run(fmt.Sprint("privileged=", privileged), func(t *testing.T) {
			g, err := tree.Group(fmt.Sprint("p", privileged))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { g.Remove() })
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			pid, err := spawn(Command{Argv: []string{"cat", "/proc/self/cgroup"}, Stdout: w, Umask: -1, Cgroup: g,
				Privileges: Privileges{NoNewPrivs: privileged}})
			w.Close()
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(r)
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, 0, nil)
			want := "0::" + strings.TrimPrefix(g.Dir(), mount)
			if !strings.Contains(string(out), want+"\n") {
				t.Errorf("the program's cgroups:\n%s\nwant the line %s", out, want)
			}
		})
	}
}

// placedOutside is a cgroup that could not take the process: it starts
// it, and says so (*cgroup.PlaceError).
type placedOutside struct{}

func (placedOutside) Start(_ *syscall.SysProcAttr, fork func() (int, error)) (int, error) {
	pid, err := fork()
	if err != nil {
		return 0, err
	}
	return pid, &cgroup.PlaceError{Pid: pid, Err: unix.EACCES}
}

// TestSpawnPlacedOutside: a process that started outside its cgroup
// comes back from spawn with its pid and the *cgroup.PlaceError, on
// both paths, for the loop to warn and go on (Supervisor.spawn).
func TestSpawnPlacedOutside(t *testing.T) {
	for _, privileged := range []bool{false, true} {
		pid, err := spawn(Command{Argv: []string{"true"}, Umask: -1, Cgroup: placedOutside{}, Privileges: Privileges{NoNewPrivs: privileged}})
		var pe *cgroup.PlaceError
		if !errors.As(err, &pe) || pid <= 0 || pe.Pid != pid {
			t.Errorf("privileged %v: pid %d, %v; want the pid and a *cgroup.PlaceError", privileged, pid, err)
		}
		if pid > 0 {
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, 0, nil)
		}
	}
}
