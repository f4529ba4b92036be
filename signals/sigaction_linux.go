package signals

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sigaction is the kernel's struct sigaction, as rt_sigaction(2) reads
// and writes it, kept as raw words: tend only ever looks at the first,
// the handler, which leads the struct on every Linux port. The rest
// (flags, restorer, mask) is copied as the Go runtime set it, so that a
// handler tend puts back is exactly the runtime's, SA_ONSTACK and its
// restorer included. Eight words are more than any port's struct.
type sigaction [8]uintptr

// Handler values with a meaning of their own, the same on every port.
const (
	sigDfl = 0 // SIG_DFL
	sigIgn = 1 // SIG_IGN
)

// getAction reads sig's disposition.
func getAction(sig syscall.Signal) (sigaction, error) {
	var old sigaction
	// The last argument is the size of the kernel's sigset_t: 64 signals.
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0,
		uintptr(unsafe.Pointer(&old[0])), 8, 0, 0)
	if errno != 0 {
		return old, fmt.Errorf("rt_sigaction(%s): %w", Name(sig), errno)
	}
	return old, nil
}

// setAction replaces sig's disposition with act. It goes behind the Go
// runtime's back: the runtime keeps no copy of what it installed, and
// only reinstalls a handler when os/signal is asked to change one, which
// tend never does once it has subscribed (see Subscribe).
func setAction(sig syscall.Signal, act *sigaction) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(&act[0])), 0, 8, 0, 0)
	if errno != 0 {
		return fmt.Errorf("rt_sigaction(%s): %w", Name(sig), errno)
	}
	return nil
}

// startedIgnored reports whether sig's disposition is SIG_IGN right now,
// before tend subscribes to it. For the signals the runtime leaves alone
// that is the disposition tend was started with.
func startedIgnored(sig syscall.Signal) bool {
	act, err := getAction(sig)
	return err == nil && act[0] == sigIgn
}
