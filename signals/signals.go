// Package signals says what each signal means to tend: forward it to the
// main program, handle it (shutdown, reload, reap), or drop it. The policy
// is pure and table-tested. The side effects are the catching: reading
// the dispositions tend was started with, and tend's own signal handlers
// (Subscribe, deliver_linux.go).
//
// Which signals tend never catches, and why:
//
//   - SIGKILL, SIGSTOP: cannot be caught.
//   - SIGURG: the Go runtime sends it to itself to preempt goroutines; a
//     forwarded SIGURG would be noise the child never asked for.
//   - SIGPROF: the Go runtime's profiling timer owns it.
//   - 32, 33, 34: reserved. glibc's threads use 32 (SIGCANCEL) and 33
//     (SIGSETXID), Go uses 33 for its own setuid-across-threads, and musl
//     uses 34. The runtime does not let a program subscribe to them, so
//     real-time signals are forwarded from 35 (glibc's SIGRTMIN+1) to 64.
//
// Which signals tend catches but does not forward:
//
//   - SIGCHLD: tend's own; it means "reap".
//   - SIGTTIN, SIGTTOU: the kernel sends them to tend when tend touches a
//     terminal it does not own; passed on, they would stop the child.
//     Catching them is what keeps tend from being stopped.
//
// SIGPIPE is forwarded when someone sent it (kill -PIPE 1 reaches the
// child, as with tini), and dropped when the kernel raised it for a
// write of tend's to a pipe nobody reads: tend's own trouble, not the
// child's (pipeHandler tells the two apart).
package signals

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Action is what tend does with a signal it received.
type Action int

const (
	// Drop: received and ignored.
	Drop Action = iota
	// Forward: sent on to the main program's process group.
	Forward
	// Reap: collect exited children (SIGCHLD).
	Reap
	// Shutdown: stop every program in order, then exit.
	Shutdown
	// Reload: re-read the configuration.
	Reload
)

func (a Action) String() string {
	switch a {
	case Drop:
		return "drop"
	case Forward:
		return "forward"
	case Reap:
		return "reap"
	case Shutdown:
		return "shutdown"
	case Reload:
		return "reload"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// RTMin is the lowest real-time signal tend catches and forwards; see the
// package comment for why 32 to 34 are left alone.
const RTMin = 35

// RTMax is the highest signal number on Linux.
const RTMax = 64

// Catchable lists every signal tend subscribes to, in numeric order:
// 1 to 31 less KILL, STOP, URG and PROF, then RTMin to RTMax.
func Catchable() []syscall.Signal {
	var out []syscall.Signal
	for s := syscall.Signal(1); s <= RTMax; s++ {
		if catchable(s) {
			out = append(out, s)
		}
	}
	return out
}

func catchable(s syscall.Signal) bool {
	switch {
	case s <= 0 || s > RTMax:
		return false
	case s == unix.SIGKILL, s == unix.SIGSTOP, s == unix.SIGURG, s == unix.SIGPROF:
		return false
	case s > 31 && s < RTMin:
		return false
	}
	return true
}

// Synchronous reports whether sig is one the kernel raises for a
// faulting instruction (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS,
// SIGSTKFLT). tend forwards them too when they are sent with kill, but
// they stay with the Go runtime and os/signal, which must see a real
// fault first: never tend's handler (Subscribe, InstallForwarder).
func Synchronous(sig syscall.Signal) bool {
	switch sig {
	case unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP, unix.SIGSYS, unix.SIGSTKFLT:
		return true
	}
	return false
}

// Stop reports whether sig is a stop signal: what a container runtime or
// a terminal sends to end the container (TERM, INT, QUIT).
func Stop(sig syscall.Signal) bool {
	return sig == unix.SIGTERM || sig == unix.SIGINT || sig == unix.SIGQUIT
}

// InInit says what init mode (`tend -- CMD`, no config) does with sig:
// everything that can be caught is forwarded, HUP and a sent PIPE
// included, except tend's own (CHLD, TTIN, TTOU).
func InInit(sig syscall.Signal) Action {
	switch sig {
	case unix.SIGCHLD:
		return Reap
	case unix.SIGTTIN, unix.SIGTTOU:
		return Drop
	}
	if !catchable(sig) {
		return Drop
	}
	return Forward
}

// InSupervisor says what supervisor mode (`tend -c FILE`, with or without
// a main program) does with sig: TERM, INT and QUIT shut down in order,
// HUP reloads, and everything else init mode would forward goes to the
// main program when there is one and is dropped when there is not.
func InSupervisor(sig syscall.Signal, hasMain bool) Action {
	switch sig {
	case unix.SIGTERM, unix.SIGINT, unix.SIGQUIT:
		return Shutdown
	case unix.SIGHUP:
		return Reload
	}
	a := InInit(sig)
	if a == Forward && !hasMain {
		return Drop
	}
	return a
}

// Name is the short name of a signal: "TERM", "RTMIN+3", or its number.
func Name(sig syscall.Signal) string {
	if sig >= 34 && sig <= RTMax {
		if sig == 34 {
			return "RTMIN"
		}
		return "RTMIN+" + strconv.Itoa(int(sig-34))
	}
	if n := unix.SignalName(sig); n != "" {
		return strings.TrimPrefix(n, "SIG")
	}
	return strconv.Itoa(int(sig))
}

// aliases are the other names kill(1) and glibc accept.
var aliases = map[string]string{"IOT": "ABRT", "CLD": "CHLD", "POLL": "IO"}

// Parse reads a signal given as a name ("TERM", "SIGTERM", "term"), a
// number ("15"), or a real-time offset ("RTMIN+3", "RTMAX-1"), with glibc's
// numbering: RTMIN is 34 and RTMAX is 64.
func Parse(s string) (syscall.Signal, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if u != "" && strings.Trim(u, "0123456789") == "" {
		n, err := strconv.Atoi(u)
		if err != nil || n < 1 || n > RTMax {
			return 0, fmt.Errorf("signal number %s out of range 1-%d", u, RTMax)
		}
		return syscall.Signal(n), nil
	}
	u = strings.TrimPrefix(u, "SIG")
	if a, ok := aliases[u]; ok {
		u = a
	}
	for _, rt := range []struct {
		name string
		base int
		sign int
	}{{"RTMIN+", 34, 1}, {"RTMAX-", RTMax, -1}} {
		if rest, ok := strings.CutPrefix(u, rt.name); ok {
			n, err := strconv.Atoi(rest)
			if err != nil || n < 0 || n > RTMax-34 || strings.Trim(rest, "0123456789") != "" {
				return 0, fmt.Errorf("unknown signal %q", s)
			}
			return syscall.Signal(rt.base + rt.sign*n), nil
		}
	}
	switch u {
	case "RTMIN":
		return 34, nil
	case "RTMAX":
		return RTMax, nil
	}
	if sig := unix.SignalNum("SIG" + u); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
