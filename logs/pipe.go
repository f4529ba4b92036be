package logs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// pipeSize is the capacity Pipe asks for.
const pipeSize = 256 << 10

// Pipe returns a pipe for a program's output: w goes to the child (the
// supervisor closes its own copy once the child is spawned), r to Copy.
//
// Both ends are close-on-exec: the spawner dup2s w onto the child's fd 1
// or 2 (syscall.ProcAttr.Files), which clears the flag on that copy only,
// so no other child inherits either end and keeps a copier from its EOF.
// r is non-blocking and registered with the Go runtime's poller, so an
// idle copier parks a goroutine, not a thread. w is left blocking, as a
// program expects of its stdout: O_NONBLOCK belongs to the open file, and
// the child shares it.
func Pipe() (r, w *os.File, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, nil, fmt.Errorf("pipe: %w", err)
	}
	if err := unix.SetNonblock(p[1], false); err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, nil, fmt.Errorf("pipe: %w", err)
	}
	// A pipe holds 64 KiB by default, so a program that writes fast waits
	// for the copier every 64 KiB, and each wait costs both sides a wakeup;
	// a bigger pipe lets them run side by side (docs/logs.md). The
	// kernel allocates the pages as they fill, but counts the capacity
	// against the user's pipe budget (fs.pipe-user-pages-soft, 64 MiB),
	// hence not more. Failing to grow is harmless: the pipe still works.
	_, _ = unix.FcntlInt(uintptr(p[0]), unix.F_SETPIPE_SZ, pipeSize)
	// os.NewFile makes a pollable File of a non-blocking fd, a plain one
	// of a blocking fd.
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1"), nil
}
