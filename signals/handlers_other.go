//go:build (!amd64 && !arm64) || purego

package signals

// No handlers of tend's own on this architecture, or in a build with
// -tags purego: every signal goes through os/signal, and SIGCHLD is muted
// only by the loop. It is what tend falls back to when installing its
// handlers fails, and CI runs the e2e suite against it once.
const handlersBuilt = false

func notifyHandlerAddr() uintptr { return 0 }
func childHandlerAddr() uintptr  { return 0 }
func pipeHandlerAddr() uintptr   { return 0 }
