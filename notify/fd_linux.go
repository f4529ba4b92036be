package notify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/rs/zerolog"

	"tend/internal/safe"
)

// MaxFd is the highest fd number a program's readiness pipe may be: the
// child closes every number between 3 and it.
const MaxFd = 255

// FdEvent is what a readiness pipe reports.
type FdEvent int

const (
	// FdReady: the program wrote a newline on its fd; ready.
	FdReady FdEvent = iota + 1
	// FdClosed: every copy of the write end is closed (EOF), or reading
	// failed. Without an FdReady before it, the program closed its fd
	// without being ready.
	FdClosed
)

func (e FdEvent) String() string {
	switch e {
	case FdReady:
		return "ready"
	case FdClosed:
		return "closed"
	default:
		return fmt.Sprintf("FdEvent(%d)", int(e))
	}
}

// Pipe is one run's s6-style readiness channel (ready = { fd = N }): a
// pipe whose write end becomes fd N in the program, which writes a
// newline there once ready. Its use, in the spawning goroutine:
//
//	p, err := notify.NewPipe(n)            // before the spawn
//	attr.Files = p.Files(attr.Files)       // the write end at index n
//	pid, err := syscall.ForkExec(...)
//	p.CloseChildEnd()                      // spawned or not: tend's copy goes
//	p.Watch(log, name, report)             // if spawned; else p.Close()
//
// and p.Close() when the run no longer matters.
type Pipe struct {
	fd      int
	r, w    *os.File
	stopped atomic.Bool   // Close was called: report no more
	done    chan struct{} // closed when Watch's goroutine has returned
}

// NewPipe makes the pipe for fd n of a program, 3 <= n <= MaxFd. Both
// ends are close-on-exec in tend; the child's copy of the write end is
// made by the spawn, at n.
func NewPipe(n int) (*Pipe, error) {
	if n < 3 || n > MaxFd {
		return nil, fmt.Errorf("readiness fd %d: want 3 to %d (0, 1 and 2 are the program's standard streams)", n, MaxFd)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("readiness fd %d: %w", n, err)
	}
	return &Pipe{fd: n, r: r, w: w, done: make(chan struct{})}, nil
}

// Fd is the fd number the program gets.
func (p *Pipe) Fd() int { return p.fd }

// ChildEnd is the write end, for a caller that builds the child's fds
// itself: it goes at index Fd of syscall.ProcAttr.Files.
func (p *Pipe) ChildEnd() *os.File { return p.w }

// Files returns syscall.ProcAttr.Files for a child whose first fds are
// std (0, 1, 2, ...): extended to index Fd, which holds the write end;
// the indices between are -1, closed in the child. std is not modified.
// The write end is set blocking, as a program expects its fds.
func (p *Pipe) Files(std []uintptr) []uintptr {
	files := make([]uintptr, max(len(std), p.fd+1))
	copy(files, std)
	for i := len(std); i < p.fd; i++ {
		files[i] = ^uintptr(0) // -1: ForkExec closes that fd in the child
	}
	files[p.fd] = p.w.Fd()
	return files
}

// CloseChildEnd closes tend's copy of the write end, once the spawn is
// done (whether it worked or not): while tend holds it, EOF cannot come.
func (p *Pipe) CloseChildEnd() error { return p.w.Close() }

// Watch starts the goroutine that reads the pipe: report(FdReady) at the
// first newline, then report(FdClosed) at EOF; FdClosed alone when EOF
// (or a read error) comes first. Anything written after the newline is
// read and dropped, in a fixed buffer, so a program that writes more does
// not block or get SIGPIPE. report runs on that goroutine: it may block,
// holding up this pipe alone. Blocked in the netpoller while nothing
// comes: no wake-ups.
func (p *Pipe) Watch(log zerolog.Logger, name string, report func(FdEvent)) {
	safe.Go(log, "readiness fd "+name, func() {
		defer close(p.done)
		defer p.r.Close()
		buf := make([]byte, 512)
		ready := false
		for {
			n, err := p.r.Read(buf)
			if !ready && bytes.IndexByte(buf[:n], '\n') >= 0 {
				ready = true
				if !p.stopped.Load() {
					report(FdReady)
				}
			}
			if err == nil {
				continue
			}
			if errors.Is(err, os.ErrClosed) || p.stopped.Load() {
				return // Close: nobody is waiting for more
			}
			if !errors.Is(err, io.EOF) {
				log.Warn().Err(err).Str("program", name).Int("fd", p.fd).Msg("reading the readiness fd failed")
			}
			report(FdClosed)
			return
		}
	})
}

// Close stops the pipe: no report starts after it, and the read end is
// closed, which ends Watch's goroutine (the program's writes then fail
// with EPIPE). It does not wait for the goroutine: a report under way
// may still be delivered, and may be waiting for the very goroutine that
// calls Close. Done says when the goroutine is gone.
func (p *Pipe) Close() error {
	p.stopped.Store(true)
	err := p.r.Close()
	p.w.Close() // in case CloseChildEnd was not called
	if err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	return nil
}

// Done is closed once Watch's goroutine has returned.
func (p *Pipe) Done() <-chan struct{} { return p.done }
