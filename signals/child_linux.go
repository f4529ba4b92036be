package signals

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Muting SIGCHLD while tend reaps.
//
// tini and catatonit keep SIGCHLD blocked and take it when they choose:
// while they drain exits with wait4, further exits only mark the signal
// pending, which costs nothing. Go cannot do that: the runtime unblocks
// SIGCHLD on every thread it starts, so each exit interrupts a thread,
// runs the runtime's handler and wakes os/signal's goroutine. In a storm
// of exits that was most of tend's CPU (bench/init.sh: 24,000 context
// switches where tini made 320).
//
// What Go does allow is a disposition of SIG_DFL, under which the kernel
// drops SIGCHLD as it is raised, without interrupting anyone, and still
// keeps the child a zombie for wait4 (only SIG_IGN and SA_NOCLDWAIT reap
// by themselves). So SIGCHLD is muted from the first SIGCHLD until the
// loop has drained: on amd64 and arm64 by childHandler
// (handlers_$GOARCH.s), which sets SIG_DFL before it marks the signal and
// wakes the loop; elsewhere by the loop's MuteChild as it starts to reap.
// However many exits follow, tend takes one SIGCHLD per reap, as tini
// does. (With the loop alone muting, the exits in the microseconds before
// it got there were delivered one by one: about 800 when 10,000 zombies
// were handed to tend at once, which the kernel does one by one, each
// with a SIGCHLD.)
//
// An exit between the loop's last wait4 and UnmuteChild raised no
// signal: the loop drains once more after UnmuteChild, and sees it. And
// whenever childHandler mutes, it then wakes the loop, so a mute the loop
// did not make is always followed by a reap that ends in UnmuteChild.

var (
	// childMuted is the muted action, SIG_DFL with the flags of the
	// handler it replaces, which childHandler and MuteChild install.
	// goChild is the action UnmuteChild puts back: childHandler, or the
	// runtime's handler where there are no handlers of tend's own. Both
	// are written by Subscribe before the handler is installed, and
	// read-only afterwards.
	childMuted sigaction
	goChild    struct {
		act   sigaction
		saved bool
	}
)

// saveChild records act, the SIGCHLD handler Subscribe installed, for
// UnmuteChild, and the muted action made from it.
func saveChild(act sigaction) {
	childMuted = act
	childMuted[0] = sigDfl
	goChild.act, goChild.saved = act, true
}

// errNotSubscribed: MuteChild was called before Subscribe.
var errNotSubscribed = errors.New("SIGCHLD: no handler saved (Subscribe not called)")

// MuteChild sets SIGCHLD to SIG_DFL: exits from now on raise no signal
// and stay zombies until reaped. Only the loop calls it, and it must
// UnmuteChild and drain once more before it next waits for an event.
func MuteChild() error {
	if !goChild.saved {
		return errNotSubscribed
	}
	return setAction(unix.SIGCHLD, &childMuted)
}

// UnmuteChild puts the SIGCHLD handler back, exactly as Subscribe left
// it.
func UnmuteChild() error {
	if !goChild.saved {
		return errNotSubscribed
	}
	return setAction(unix.SIGCHLD, &goChild.act)
}
