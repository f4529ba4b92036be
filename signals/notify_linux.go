package signals

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Subscription is what Subscribe hands back: two channels and the signals
// left ignored.
type Subscription struct {
	// Child receives SIGCHLD. Its capacity is 1 on purpose: SIGCHLD says
	// "something exited", a drain loop collects all of it, and one
	// pending notice is enough. Keeping it apart from Other means a storm
	// of exits can never crowd a TERM out of a full channel.
	Child <-chan os.Signal
	// Other receives every other subscribed signal. A signal that arrives
	// again before it was received is received once, as with os/signal;
	// the forwarder's count (Forwarded) is exact.
	Other <-chan os.Signal
	// Ignored lists the signals tend was started with set to SIG_IGN and
	// leaves that way: see Subscribe.
	Ignored []syscall.Signal
}

// otherCap bounds the queue of non-SIGCHLD signals: far more than a
// person or an orchestrator sends between two turns of the loop. When it
// is full, tend's own delivery waits (signals pile up as pending, each
// kind once) and os/signal drops.
const otherCap = 128

// Subscribe must be the first thing main does: until a signal is
// subscribed, the Go runtime kills tend on TERM, and PID 1 drops it.
//
// A signal tend was started with ignored is left ignored, so the child
// inherits SIG_IGN across exec as it would from tini (a shell ignores INT
// and QUIT for background jobs, nohup ignores HUP). This can only be kept
// for the signals the Go runtime does not take over at start: HUP and INT
// when ignored, and TSTP, TTIN and TTOU always. Every other signal started
// ignored had its disposition replaced before main ran, and the child
// gets SIG_DFL for it: a limit of Go, documented in docs/signals.md.
//
// On amd64 and arm64 tend catches the signals with handlers of its own
// (deliver_linux.go), and os/signal only the fault signals. Should that
// fail to set up, and elsewhere, os/signal takes them all but SIGPIPE,
// which is then never delivered: only tend's handler can tell a SIGPIPE
// sent with kill from one the kernel raised for tend's own write.
func Subscribe() Subscription {
	child := make(chan os.Signal, 1)
	other := make(chan os.Signal, otherCap)
	var own, runtime, ignored []syscall.Signal
	for _, s := range Catchable() {
		switch {
		case s != unix.SIGCHLD && startedIgnored(s):
			ignored = append(ignored, s)
		case Synchronous(s):
			// The runtime must see a fault before anyone.
			runtime = append(runtime, s)
		default:
			own = append(own, s)
		}
	}
	for _, s := range runtime {
		signal.Notify(other, s)
	}
	// The runtime kills a program whose write to stdout or stderr fails
	// with EPIPE, unless os/signal has SIGPIPE: this channel takes that
	// notice and is never read (os/signal drops what does not fit). A
	// SIGPIPE someone sends reaches tend through pipeHandler, which tells
	// it from the kernel's.
	signal.Notify(make(chan os.Signal, 1), unix.SIGPIPE)
	if !handlersBuilt || deliverOwn(own, child, other) != nil {
		for _, s := range own {
			if s == unix.SIGPIPE {
				continue // os/signal cannot tell a sent SIGPIPE from the kernel's: dropped
			}
			if s == unix.SIGCHLD {
				signal.Notify(child, s)
				if act, err := getAction(s); err == nil && act[0] != sigDfl && act[0] != sigIgn {
					saveChild(act)
				}
				continue
			}
			signal.Notify(other, s)
		}
	}
	return Subscription{Child: child, Other: other, Ignored: ignored}
}
