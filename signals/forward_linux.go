package signals

import (
	"fmt"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
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
	// fwdQuiet says, per signal, whether the handler wakes the loop
	// for it once sent: 0 (wake it) or 1 (do not). Stored by
	// InstallForwarder, loaded by the handler.
	fwdQuiet [RTMax + 1]uint32
	// fwdStamp says, per signal, whether the handler notes the first
	// one it sends (StopForwarded): 1 for the stop signals (Stop).
	// Stored by InstallForwarder, loaded by the handler.
	fwdStamp [RTMax + 1]uint32
	// fwdStopTarget and fwdStopNs are the target and the time (on
	// CLOCK_BOOTTIME, ns) of the first stop signal the handler sent
	// since StopForwarded last took them. fwdStopNs is 0 until then, -1
	// from just before the handler's kill to just after it, when the
	// time is stored: the kill wakes the main program first, and its
	// exit may reach the loop before the handler runs again. The
	// handler stores the target before its compare-and-swap, so a
	// handler that loses the swap (a stop already noted) writes the
	// target too: the same one, as both read fwdTarget, which only the
	// loop changes and which is 0 once the main program is gone.
	// fwdStopTs is the handler's clock_gettime buffer.
	fwdStopTarget int64
	fwdStopNs     int64
	fwdStopTs     [2]int64
)

// InstallForwarder turns forwarding in the handler on for each of sigs
// that tend's handler catches (Subscribe must have run), and returns
// those. Until ForwardTo names a target it sends nothing. With quiet, a
// signal of sigs the handler has sent is not delivered to the
// Subscription: the loop hears only of those it must act on. Only the
// loop calls it, before it forwards anything; once per set of signals
// that differ in quiet.
func InstallForwarder(sigs []syscall.Signal, quiet bool) ([]syscall.Signal, error) {
	if !handlersBuilt {
		return nil, nil
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
		if quiet {
			atomic.StoreUint32(&fwdQuiet[sig], 1)
		}
		if Stop(sig) {
			atomic.StoreUint32(&fwdStamp[sig], 1)
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

// StopForwarded reports the first stop signal (Stop) the handler sent
// since the last call, quietly or not: its target (as ForwardTo took
// it) and when, on CLOCK_BOOTTIME in nanoseconds. The handler forwards
// a TERM as it does any signal, without waking the loop when quiet; the
// loop takes the note at its next step, as it must know which process
// groups had their stop signal, and since when, before it stops
// leftovers.
//
// A stop signal in flight (the handler is between its kill and its
// clock) is reported as sent now, and reported again with its time
// once the handler has it.
func StopForwarded() (target int, bootNs int64, ok bool) {
	ns := atomic.LoadInt64(&fwdStopNs)
	if ns == 0 {
		return 0, 0, false
	}
	target = int(atomic.LoadInt64(&fwdStopTarget))
	if ns < 0 {
		var now unix.Timespec
		if unix.ClockGettime(unix.CLOCK_BOOTTIME, &now) != nil {
			return 0, 0, false
		}
		return target, now.Nano(), true
	}
	atomic.CompareAndSwapInt64(&fwdStopNs, ns, 0)
	return target, ns, true
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
