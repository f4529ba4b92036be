//go:build !amd64 && !arm64

package signals

// No handlers of tend's own on this architecture: every signal goes
// through os/signal, and SIGCHLD is muted only by the loop.
const handlersBuilt = false

func notifyHandlerAddr() uintptr { return 0 }
func childHandlerAddr() uintptr  { return 0 }
func pipeHandlerAddr() uintptr   { return 0 }
