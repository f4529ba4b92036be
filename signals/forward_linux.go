package signals

import (
	"fmt"
	"sync/atomic"
	"syscall"
)

// Forwarding in the signal handler.
//
// Through os/signal a forwarded signal takes three hand-offs between
// threads before tend's loop can call kill(2): the runtime's handler wakes
// the thread parked for os/signal, whose goroutine's channel send wakes
// the loop. tini calls kill as soon as sigtimedwait returns. On a
// two-CPU VM that put tend's forwarding latency at 2.1x tini's
// (bench/init.sh).
//
// So for the signals it forwards, tend puts a handler of its own, a few
// instructions of assembly (handlers_$GOARCH.s), in front of the runtime's: it sends the
// signal to the target the loop set, counts it, and jumps into the
// runtime's handler, which goes on as before. The loop still receives
// every signal; for one the handler already sent it only logs it
// (Forwarded). The signals a faulting instruction raises (see
// Synchronous) are never given this handler: the runtime must see those
// first, and a real SIGSEGV in tend is not the child's business.

var (
	// fwdTarget is where the handler sends signals: a pid, or a process
	// group as -pgid; 0 sends nothing. Stored by the loop, loaded by the
	// handler.
	fwdTarget int64
	// fwdSent counts, per signal, what the handler has sent since
	// Forwarded last took the count. Added to by the handler.
	fwdSent [RTMax + 1]uint32
	// fwdChain is the runtime's handler for each signal the forwarder is
	// installed on, where the handler jumps. Written before the handler is
	// installed for that signal, never after.
	fwdChain [RTMax + 1]uintptr
)

// ForwarderBuilt says whether this build has the handler: on amd64 and
// arm64. Elsewhere InstallForwarder installs nothing, and every signal
// goes through os/signal.
const ForwarderBuilt = handlersBuilt

// InstallForwarder puts the forwarding handler in front of the runtime's
// for each of sigs that the runtime handles (Subscribe must have run),
// and returns those. Until ForwardTo names a target it sends nothing.
// Only the loop calls it, once, before it forwards anything.
func InstallForwarder(sigs []syscall.Signal) ([]syscall.Signal, error) {
	if !handlersBuilt {
		return nil, nil
	}
	entry := forwardHandlerAddr()
	var done []syscall.Signal
	for _, sig := range sigs {
		if !catchable(sig) || Synchronous(sig) {
			return done, fmt.Errorf("install forwarder: %s is not for the handler", Name(sig))
		}
		act, err := getAction(sig)
		if err != nil {
			return done, fmt.Errorf("install forwarder: %w", err)
		}
		switch act[0] {
		case sigDfl, sigIgn:
			continue // not the runtime's: nothing to chain to
		case entry:
			done = append(done, sig)
			continue
		}
		fwdChain[sig] = act[0]
		act[0] = entry
		if err := setAction(sig, &act); err != nil {
			return done, fmt.Errorf("install forwarder: %w", err)
		}
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

// Forwarded returns how many times the handler has sent sig since the
// last call, and starts the count again.
func Forwarded(sig syscall.Signal) int {
	if sig <= 0 || sig > RTMax {
		return 0
	}
	return int(atomic.SwapUint32(&fwdSent[sig], 0))
}
