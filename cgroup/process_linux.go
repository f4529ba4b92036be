package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// PlaceError: the process started, outside its cgroup, and could not be
// moved in. Its pid is valid: its exit will come like any other's.
type PlaceError struct {
	Pid int
	Err error
}

func (e *PlaceError) Error() string {
	return fmt.Sprintf("pid %d started outside its cgroup: %v", e.Pid, e.Err)
}

func (e *PlaceError) Unwrap() error { return e.Err }

// Start runs fork (a syscall.ForkExec, say, with sys as its
// SysProcAttr) so that the process starts in the group: clone3 with
// CLONE_INTO_CGROUP (Linux 5.7), through sys.UseCgroupFD and
// sys.CgroupFD, so the program runs no instruction outside its cgroup
// and no child it forks at once escapes the group.
//
// Where clone3 is refused (Docker's and podman's default seccomp
// profiles answer it with ENOSYS; kernels before 5.7 do not know the
// flag), Start forks again without it and moves the pid in right after,
// and does so for every later Start of the tree: the program then runs
// for a moment in tend's cgroup, and a child it forks in that moment
// stays there (docs/supervisor.md). A pid that could not be moved comes
// back with a *PlaceError.
//
// Start leaves sys as it found it. fork must be safe to call twice when
// the first call fails.
func (g *Group) Start(sys *syscall.SysProcAttr, fork func() (int, error)) (int, error) {
	if !g.tree.noCloneInto {
		fd, err := unix.Open(g.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return 0, fmt.Errorf("cgroup of %s: %w", g.name, &os.PathError{Op: "open", Path: g.dir, Err: err})
		}
		use, cfd := sys.UseCgroupFD, sys.CgroupFD
		sys.UseCgroupFD, sys.CgroupFD = true, fd
		pid, err := fork()
		sys.UseCgroupFD, sys.CgroupFD = use, cfd
		unix.Close(fd)
		if err == nil || !cloneIntoRefused(err) {
			return pid, err
		}
		g.tree.noCloneInto = true
	}
	pid, err := fork()
	if err != nil {
		return 0, err
	}
	if err := g.Adopt(pid); err != nil {
		return pid, &PlaceError{Pid: pid, Err: err}
	}
	return pid, nil
}

// cloneIntoRefused reports whether a fork failed because clone3 or its
// CLONE_INTO_CGROUP is not there, rather than for the program's sake:
// ENOSYS (no clone3, or a seccomp filter), or EINVAL from a kernel older
// than 5.7 (clone3 without the flag; an exec's EINVAL is rare and on
// such a kernel would only cost the cgroup fd from then on).
func cloneIntoRefused(err error) bool {
	if errors.Is(err, unix.ENOSYS) {
		return true
	}
	return errors.Is(err, unix.EINVAL) && !kernelAtLeast(5, 7)
}

// kernelAtLeast reports whether the running kernel is major.minor or
// later.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	return releaseAtLeast(unix.ByteSliceToString(u.Release[:]), major, minor)
}

// releaseAtLeast compares a kernel release ("6.1.0-13-amd64") with
// major.minor.
func releaseAtLeast(release string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(release, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// Adopt moves pid into the group (cgroup.procs).
func (g *Group) Adopt(pid int) error {
	return writeFile(filepath.Join(g.dir, "cgroup.procs"), fmt.Sprint(pid))
}

// maxKillPasses bounds Kill's fallback, which signals what it reads
// until a read finds nothing it has not signalled.
const maxKillPasses = 64

// Kill sends SIGKILL to every process in the group, a daemonized one
// that left its process group included: one write to cgroup.kill (Linux
// 5.14), which the kernel does for the whole group at once. Without
// cgroup.kill it reads cgroup.procs and signals each pid, again until a
// pass finds no pid it has not signalled: a process forking faster than
// that may outrun it (the reason cgroup.kill was added).
func (g *Group) Kill() error {
	if g.tree.canKill {
		return writeFile(filepath.Join(g.dir, "cgroup.kill"), "1")
	}
	sent := map[int]bool{}
	procs := filepath.Join(g.dir, "cgroup.procs")
	for range maxKillPasses {
		fresh := 0
		err := eachPid(procs, func(pid int) {
			if !sent[pid] {
				sent[pid] = true
				fresh++
				unix.Kill(pid, unix.SIGKILL)
			}
		})
		if err != nil {
			return err
		}
		if fresh == 0 {
			return nil
		}
	}
	return fmt.Errorf("kill %s: new processes after %d passes", g.dir, maxKillPasses)
}

// ErrNoFreezer: the kernel has no cgroup.freeze (before 5.2).
var ErrNoFreezer = errors.New("no cgroup freezer (cgroup.freeze, Linux 5.2)")

// Freeze asks the kernel to freeze every process in the group, and
// returns without waiting: WaitFrozen waits for it. A frozen process
// stops where it is, with no SIGSTOP: its parent sees no stop, and it
// sees no SIGCONT when thawed.
func (g *Group) Freeze() error { return g.setFrozen("1") }

// Thaw undoes Freeze.
func (g *Group) Thaw() error { return g.setFrozen("0") }

func (g *Group) setFrozen(v string) error {
	if !g.tree.canFreeze {
		return ErrNoFreezer
	}
	return writeFile(filepath.Join(g.dir, "cgroup.freeze"), v)
}

// Frozen reports whether every process in the group is frozen
// (cgroup.events "frozen 1").
func (g *Group) Frozen() (bool, error) { return g.event("frozen") }

// Populated reports whether the group has a live process
// (cgroup.events "populated 1").
func (g *Group) Populated() (bool, error) { return g.event("populated") }

func (g *Group) event(key string) (bool, error) {
	data, err := readSmall(filepath.Join(g.dir, "cgroup.events"))
	if err != nil {
		return false, err
	}
	v, ok := flatValue(data, key)
	if !ok {
		return false, fmt.Errorf("%s/cgroup.events: no %q", g.dir, key)
	}
	return v == 1, nil
}

// WaitFrozen waits until every group is frozen, or until deadline. It
// blocks: run it on a goroutine of its own, and report back.
func WaitFrozen(deadline time.Time, groups ...*Group) error {
	return waitEvents("frozen", 1, deadline, groups)
}

// WaitEmpty waits until no group has a live process, or until deadline.
// It blocks: run it on a goroutine of its own, and report back.
func WaitEmpty(deadline time.Time, groups ...*Group) error {
	return waitEvents("populated", 0, deadline, groups)
}

// waitLooked, set by a test, runs after each look that found a group
// not there yet: the test changes a file then, so that only the
// inotify wake-up can end the wait.
var waitLooked func()

// waitEvents waits until key is want in the cgroup.events of every
// group. The kernel marks cgroup.events modified when one of its values
// changes: one inotify instance watches all the groups' files, and the
// wait is a read with the deadline on it, on Go's poller: no polling
// loop, no thread held.
func waitEvents(key string, want uint64, deadline time.Time, groups []*Group) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	defer f.Close()
	for _, g := range groups {
		if _, err := unix.InotifyAddWatch(fd, filepath.Join(g.dir, "cgroup.events"), unix.IN_MODIFY); err != nil {
			return fmt.Errorf("watch %s/cgroup.events: %w", g.dir, err)
		}
	}
	if err := f.SetReadDeadline(deadline); err != nil {
		return err
	}
	// Watches first, then a look: a change between the two is not lost.
	buf := make([]byte, 4096)
	for {
		var pending []string
		for _, g := range groups {
			data, err := readSmall(filepath.Join(g.dir, "cgroup.events"))
			if err != nil {
				return err
			}
			if v, ok := flatValue(data, key); !ok || v != want {
				pending = append(pending, g.name)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if waitLooked != nil {
			waitLooked()
		}
		if _, err := f.Read(buf); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return fmt.Errorf("%s %d: not yet in %s: %w", key, want, strings.Join(pending, ", "), err)
			}
			return fmt.Errorf("inotify: %w", err)
		}
	}
}
