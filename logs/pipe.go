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

// outPipeSize is what GrowPipe asks for.
const outPipeSize = 1 << 20

// GrowPipe grows f, tend's stdout or stderr, to 1 MiB when it is a pipe
// (a FIFO) smaller than that, as a container's stdout usually is: the
// copiers then write batches of lines whole, and whoever reads the other
// end wakes once per batch rather than once per 64 KiB. The kernel
// allocates the pages only as they fill; a pipe the kernel will not grow
// (fs.pipe-max-size, the user's pipe budget) stays as it was. It reports
// the size the pipe has, 0 when f is not a pipe.
func GrowPipe(f *os.File) int {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return 0
	}
	size, err := unix.FcntlInt(f.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		return 0
	}
	if size < outPipeSize {
		if n, err := unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, outPipeSize); err == nil {
			size = n
		}
	}
	return size
}
