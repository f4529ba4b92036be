//go:build (amd64 || arm64) && !purego

package signals

// The signal handlers of handlers_$GOARCH.s. The kernel enters them with
// the C calling convention; Go never calls them.

// notifyHandler forwards the signal if fwdOn says so (to fwdTarget), and
// is done if it was sent and fwdQuiet says so for it; else it counts a sent
// signal in fwdSent, marks the signal in pending and writes to wakeFD
// (deliver_linux.go). In a process that is not tend (selfPID), a child
// between fork and exec, it puts SIG_DFL back and raises the signal
// again.
func notifyHandler()

// childHandler mutes SIGCHLD with childMuted and goes on as
// notifyHandler (child_linux.go).
func childHandler()

// pipeHandler drops a SIGPIPE the kernel raised for tend's own write
// (a positive si_code, or si_pid tend's own) and goes on as
// notifyHandler with any other: one sent with kill or sigqueue.
func pipeHandler()

// notifyHandlerAddr, childHandlerAddr and pipeHandlerAddr are the
// handlers' entry points.
func notifyHandlerAddr() uintptr
func childHandlerAddr() uintptr
func pipeHandlerAddr() uintptr

// handlersBuilt: this architecture has the handlers.
const handlersBuilt = true
