package signals

import (
	"errors"
	"fmt"
	"math/bits"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Delivering signals without os/signal.
//
// os/signal enables each signal with a round trip to a thread of its
// own: about 70 µs a signal, 4 of the 5.6 ms tend took to start a child
// when it subscribed 59 of them. And it hands each signal over through
// two thread wake-ups. So on amd64 and arm64 tend catches its signals
// with handlers of its own (handlers_$GOARCH.s), in place of the
// runtime's: notifyHandler forwards the signal if the loop asked it to
// (forward_linux.go), marks it in pending and writes to an eventfd;
// childHandler mutes SIGCHLD first (child_linux.go). One goroutine,
// deliver, reads the eventfd through the runtime's poller, so it needs no
// thread while it waits, and hands the marked signals to the
// Subscription's channels, lowest first.
//
// The runtime keeps what it needs: SIGURG and SIGPROF, and, through
// os/signal, the fault signals (see Subscribe). SIGPIPE has a handler of
// its own, pipeHandler, which drops the SIGPIPE the kernel raises for a
// write of tend's to a closed pipe and passes on one sent with kill. A handler of
// tend's runs with every signal blocked, as the runtime's does, and
// touches no Go state but the words below.
//
// Two things the runtime's handlers did are done here instead:
//   - A child of tend's, between fork and exec, has tend's handlers but
//     not its loop. The runtime resets its own handlers in the child, not
//     tend's; so a handler that finds itself in another process (selfPID)
//     restores SIG_DFL and raises the signal again, which is what the
//     kernel would have done.
//   - The runtime keeps a signal that tend was started with blocked
//     blocked on its threads; os/signal unblocked it on its own thread.
//     keepUnblocked does that for tend's handlers.

var (
	// pending holds the signals caught and not yet delivered: bit s%64 of
	// word s/64. Set by the handlers, taken by deliver.
	pending [2]uint64
	// wakeFD is the eventfd the handlers write wakeOne to.
	wakeFD  int64  = -1
	wakeOne uint64 = 1
	// selfPID is tend's pid, for the handlers to tell a forked child.
	selfPID int64
	// dflAction is SIG_DFL, all zeros, for the handlers to restore.
	dflAction sigaction
)

// deliverOwn installs tend's handlers for sigs and starts delivering to
// child (SIGCHLD) and other. An error means nothing was installed.
func deliverOwn(sigs []syscall.Signal, child, other chan<- os.Signal) error {
	// Every handler is installed with the runtime's own flags, mask and
	// restorer: SIGURG's, which the runtime always handles.
	tmpl, err := getAction(unix.SIGURG)
	if err != nil {
		return err
	}
	if tmpl[0] == sigDfl || tmpl[0] == sigIgn {
		return errors.New("SIGURG has no runtime handler to copy")
	}
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	wake := os.NewFile(uintptr(fd), "signals")
	atomic.StoreInt64(&wakeFD, int64(fd))
	atomic.StoreInt64(&selfPID, int64(os.Getpid()))

	var blockedNow, ours uint64
	if _, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_BLOCK, 0,
		uintptr(unsafe.Pointer(&blockedNow)), 8, 0, 0); errno != 0 {
		blockedNow = 0 // cannot tell: assume nothing is blocked, as under Docker
	}
	for i, sig := range sigs {
		act := tmpl
		act[0] = notifyHandlerAddr()
		switch sig {
		case unix.SIGCHLD:
			act[0] = childHandlerAddr()
			saveChild(act)
		case unix.SIGPIPE:
			act[0] = pipeHandlerAddr()
		}
		if err := setAction(sig, &act); err != nil {
			// Not for a signal Catchable lists. Should it happen, give
			// the runtime back what was installed, for os/signal.
			for _, done := range sigs[:i] {
				setAction(done, &tmpl)
			}
			goChild.saved = false
			atomic.StoreInt64(&wakeFD, -1)
			wake.Close()
			return err
		}
		ours |= 1 << (sig - 1)
	}
	go deliver(wake, child, other)
	if b := blockedNow & ours; b != 0 {
		keepUnblocked(b)
	}
	return nil
}

// deliver hands the signals the handlers mark to child and other, for as
// long as tend runs. It waits in the runtime's poller, and when other is
// full it waits for the loop: signals that arrive meanwhile stay marked.
// A panic (none is known) is reported on stderr, as tend has no logger
// yet when it subscribes, and delivery starts again with the marks not
// yet taken: without it tend would hear no signal again.
func deliver(wake *os.File, child, other chan<- os.Signal) {
	for !deliverUntil(wake, child, other) {
	}
}

// deliverUntil delivers until the eventfd fails (true) or a panic (false).
func deliverUntil(wake *os.File, child, other chan<- os.Signal) (failed bool) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "tend: signal delivery: recovered a panic: %v\n%s", r, debug.Stack())
		}
	}()
	var buf [8]byte
	for {
		// Take the marks, then wait for the next write: a handler marks
		// before it writes, so a mark this pass missed is followed by a
		// write that ends the wait.
		for w := range pending {
			marks := atomic.SwapUint64(&pending[w], 0)
			for marks != 0 {
				b := bits.TrailingZeros64(marks)
				marks &^= 1 << b
				sig := syscall.Signal(w*64 + b)
				if sig == unix.SIGCHLD {
					select { // one notice is enough: see Subscription
					case child <- sig:
					default:
					}
					continue
				}
				other <- sig
			}
		}
		if _, err := wake.Read(buf[:]); err != nil && !errors.Is(err, syscall.EINTR) {
			// An eventfd read fails only when the fd is bad, which
			// nothing here closes. Without it there is no waking up, so
			// stop rather than spin.
			fmt.Fprintf(os.Stderr, "tend: signal delivery stopped: %v\n", err)
			return true
		}
	}
}

// keepUnblocked gives the signals in set, which tend was started with
// blocked and the runtime keeps blocked on its threads, one thread that
// takes them: it unblocks them and sleeps for good. The kernel hands a
// signal to a thread that does not block it, interrupting its sleep; the
// handler runs, and the thread sleeps again. Only when tend was started
// with some of its signals blocked, which a container never is (tini's
// tests do it).
func keepUnblocked(set uint64) {
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread() // for good: this thread is the signals'
		unix.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_UNBLOCK,
			uintptr(unsafe.Pointer(&set)), 0, 8, 0, 0)
		close(ready)
		select {}
	}()
	<-ready
}
