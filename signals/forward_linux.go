package signals

import (
	"fmt"
	"sync/atomic"
	"syscall"
)

// Forwarding in the signal handler.
//
// tini calls kill(2) as soon as sigtimedwait returns. Through os/signal a
// forwarded signal would take two hand-offs between threads before tend's
// loop could: on a two-CPU VM that put tend's forwarding latency at 2.1x
// tini's (bench/init.sh). So notifyHandler (handlers_$GOARCH.s), which
// catches the signals tend delivers itself (deliver_linux.go), sends each
// signal the loop forwards to the target the loop set before anything
// else. What the loop would do with a signal the handler sent is log it
// at debug level; so when that level is off (quiet), the handler does not
// wake the loop for it at all: one wake-up of tend and one kill, as in
// tini. Otherwise it counts the signal and wakes the loop, which logs it
// (Forwarded). A signal the kill failed for (the target is gone) always
// goes to the loop. The signals a faulting instruction raises (see
// Synchronous) stay with the runtime and os/signal: the runtime must see
// those first, and a real SIGSEGV in tend is not the child's business. A
// kill -SEGV of tend is forwarded by the loop.

var (
	// fwdOn says, per signal, whether notifyHandler forwards it: 1 or 0.
	// Stored by InstallForwarder, loaded by the handler.
	fwdOn [RTMax + 1]uint32
	// fwdTarget is where the handler sends signals: a pid, or a process
	// group as -pgid; 0 sends nothing. Stored by the loop, loaded by the
	// handler.
	fwdTarget int64
	// fwdSent counts, per signal, what the handler has sent and woken
	// the loop for since Forwarded last took the count. Added to by the
	// handler.
	fwdSent [RTMax + 1]uint32
	// fwdQuiet is 1 when the handler wakes the loop for no signal it
	// sent. Stored by InstallForwarder, loaded by the handler.
	fwdQuiet uint32
)

// InstallForwarder turns forwarding in the handler on for each of sigs
// that tend's handler catches (Subscribe must have run), and returns
// those. Until ForwardTo names a target it sends nothing. With quiet, a
// signal the handler has sent is not delivered to the Subscription: the
// loop hears only of those it must act on. Only the loop calls it, once,
// before it forwards anything.
func InstallForwarder(sigs []syscall.Signal, quiet bool) ([]syscall.Signal, error) {
	if !handlersBuilt {
		return nil, nil
	}
	if quiet {
		atomic.StoreUint32(&fwdQuiet, 1)
	}
	var done []syscall.Signal
	for _, sig := range sigs {
		if !catchable(sig) || Synchronous(sig) || sig == syscall.SIGCHLD {
			return done, fmt.Errorf("install forwarder: %s is not for the handler", Name(sig))
		}
		act, err := getAction(sig)
		if err != nil {
			return done, fmt.Errorf("install forwarder: %w", err)
		}
		if act[0] != notifyHandlerAddr() && act[0] != pipeHandlerAddr() {
			continue // ignored, or left to os/signal: the loop forwards it
		}
		atomic.StoreUint32(&fwdOn[sig], 1)
		done = append(done, sig)
	}
	return done, nil
}

// ForwardTo sets where the handler sends signals: pid, or -pgid for a
// process group; 0 to send nothing. A handler already running may still
// send one to the target before.
func ForwardTo(target int) {
	atomic.StoreInt64(&fwdTarget, int64(target))
}

// Forwarded returns how many times the handler has sent sig and woken the
// loop for it since the last call, and starts the count again. Quiet
// forwarding (InstallForwarder) counts nothing.
func Forwarded(sig syscall.Signal) int {
	if sig <= 0 || sig > RTMax {
		return 0
	}
	return int(atomic.SwapUint32(&fwdSent[sig], 0))
}
