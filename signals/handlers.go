//go:build amd64 || arm64

package signals

// The signal handlers of handlers_$GOARCH.s. The kernel enters them with
// the C calling convention; Go never calls them.

// forwardHandler sends the signal to fwdTarget, counts it in fwdSent and
// jumps to fwdChain[sig] (forward_linux.go).
func forwardHandler()

// childHandler mutes SIGCHLD with childMuted and jumps to childChain
// (child_linux.go).
func childHandler()

// forwardHandlerAddr and childHandlerAddr are the handlers' entry points.
func forwardHandlerAddr() uintptr
func childHandlerAddr() uintptr

// handlersBuilt: this architecture has the handlers.
const handlersBuilt = true
