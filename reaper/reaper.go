// Package reaper is where tend reaps: the only place that calls wait4
// (Drain), when to call it (Schedule), and the walk that finds what is
// left to stop once the programs are down (SignalLeftovers) or of a
// program's process group (GroupSize).
//
// Only this package calls wait4.
//
// A wait4(-1) anywhere else would steal exit statuses from their owner, so
// the rule is enforced by a test that walks the module's syntax trees
// (TestOnlyReaperWaits). The caller is the supervisor's loop: on SIGCHLD it
// calls Drain, which hands every exit to a function that looks the pid up
// in the loop's own pid→owner table. Because the same goroutine spawns
// children and records their pids before it next drains, a child that
// exits the instant it is forked is simply an exit already waiting.
package reaper

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Exit is one reaped process.
type Exit struct {
	Pid    int
	Status unix.WaitStatus
}

// Code is the exit code a shell would report: the status for a normal
// exit, 128+N for a process killed by signal N.
func (e Exit) Code() int {
	return Code(e.Status)
}

// Code is the exit code a shell would report for ws: the status for a
// normal exit, 128+N for a process killed by signal N.
func Code(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// Drain reaps every child that has exited, without blocking, and calls fn
// for each in the order the kernel reports them. It returns true while
// children remain (running, or stopped), false once there are none.
func Drain(fn func(Exit)) (childrenLeft bool, err error) {
	for {
		var ws unix.WaitStatus
		pid, err := wait4Nohang(&ws)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ECHILD):
			return false, nil
		case err != nil:
			return true, fmt.Errorf("wait4: %w", err)
		case pid <= 0:
			return true, nil
		}
		fn(Exit{Pid: pid, Status: ws})
	}
}

// Collect reaps pid, a child that failed before its exec: its spawner
// (internal/forkexec) read the reason from the child and is the only one
// who knows the pid, so no owner's status is taken. It blocks, but not
// for long: such a child exits right after it reports. syscall.ForkExec
// does the same inside the standard library.
func Collect(pid int) {
	for {
		var ws unix.WaitStatus
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
			return
		}
	}
}

// wait4Nohang is wait4(-1, ws, WNOHANG, NULL) as a raw system call, one
// the Go scheduler is not told about. unix.Wait4 tells it (entersyscall),
// and then sysmon hands tend's only P to another thread whenever one
// wait4 takes over 20 µs, which in an exit storm many do: the kernel's
// tasklist_lock is contended while it reparents orphans. Each hand-off
// is a thread wake-up and another to take the P back; for 10,000 zombies
// that was about 1,500 context switches. With WNOHANG wait4 never
// blocks, so there is nothing for the scheduler to do meanwhile.
func wait4Nohang(ws *unix.WaitStatus) (int, error) {
	r, _, errno := unix.RawSyscall6(unix.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(ws)), unix.WNOHANG, 0, 0, 0)
	if errno != 0 {
		return int(r), errno
	}
	return int(r), nil
}

// IsInit reports whether tend is PID 1 of its PID namespace.
func IsInit() bool {
	return os.Getpid() == 1
}

// BecomeSubreaper makes orphaned descendants reparent to tend instead of
// to the real init, so that tend can reap them and wait for them at
// shutdown. PID 1 is one already.
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
	}
	return nil
}
