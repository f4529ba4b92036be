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
	// Other receives every other subscribed signal, in arrival order.
	Other <-chan os.Signal
	// Ignored lists the signals tend was started with set to SIG_IGN and
	// leaves that way: see Subscribe.
	Ignored []syscall.Signal
}

// otherCap bounds the queue of non-SIGCHLD signals. os/signal drops a
// signal when the channel is full; 128 is far more than a person or an
// orchestrator sends between two turns of the loop.
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
func Subscribe() Subscription {
	child := make(chan os.Signal, 1)
	other := make(chan os.Signal, otherCap)
	signal.Notify(child, unix.SIGCHLD)
	saveChildHandler()
	var ignored []syscall.Signal
	for _, s := range Catchable() {
		if s == unix.SIGCHLD {
			continue
		}
		if startedIgnored(s) {
			ignored = append(ignored, s)
			continue
		}
		signal.Notify(other, s)
	}
	return Subscription{Child: child, Other: other, Ignored: ignored}
}
