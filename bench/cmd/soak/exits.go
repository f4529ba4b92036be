package main

import (
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"tend/bench/internal/benchkit"
)

// This file answers "was anything left in the namespace when tend
// exited?". It cannot be read from /proc afterwards: when a namespace's
// init exits, the kernel SIGKILLs whatever else is in it, and the
// init's exit completes only once they are gone. The kernel's
// process-events connector (root only) reports every thread's exit,
// with its wait status, so the soak listens to it over the shutdown.
// A thread's exit event is sent at the end of its exit, after the
// kernel has killed an init's leftovers when that thread is the init's
// last; so a leftover is:
//
//   - a process of the namespace that exits after one of tend's
//     threads has: tend had begun to exit; or
//   - one killed by SIGKILL after tend got SIGTERM. Every program of
//     the soak dies of SIGTERM, so a SIGKILL is tend having to send one
//     (its log says so, and its exit code) or the kernel killing what
//     tend left. Exec probes are the exception: tend SIGKILLs a probe
//     in flight when its program stops, so those tend starts after the
//     SIGTERM, or that were running then, are left out.
//
// (bench/cmd/svbench follows its supervisors through the same
// connector for timing: benchkit.OpenProcEvents and ParseProcEvents.)

// procEvent is a fork of a new process (Parent made Pid) or the exit of
// one of a process's threads (Pid is the process).
type procEvent struct {
	Ns     int64 // CLOCK_MONOTONIC
	Fork   bool
	Parent int
	Pid    int
	Code   uint32 // exit: the wait status
}

// exitWatch records every fork and exit on the machine while it is open.
type exitWatch struct {
	fd     int
	mu     sync.Mutex
	events []procEvent
	lost   int // receive overruns: events were dropped
	lastNs int64
	err    error
	got    chan struct{} // a token after each batch

	closing atomic.Bool
	done    chan struct{} // closed when read returns
}

func watchExits() (*exitWatch, error) {
	fd, err := benchkit.OpenProcEvents(32 << 20)
	if err != nil {
		return nil, err
	}
	// read wakes up now and then to see whether close wants it gone: the
	// fd is closed only after read has returned, so that its number,
	// taken again by the next socket, is never read by this watch.
	tv := unix.NsecToTimeval((200 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	w := &exitWatch{fd: fd, got: make(chan struct{}, 1), done: make(chan struct{})}
	go w.read()
	if err := w.settle(); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *exitWatch) read() {
	defer close(w.done)
	buf := make([]byte, 1<<16)
	for !w.closing.Load() {
		n, _, err := unix.Recvfrom(w.fd, buf, 0)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		w.mu.Lock()
		if errors.Is(err, unix.ENOBUFS) {
			w.lost++
		} else if err != nil {
			w.err = err
			w.mu.Unlock()
			return
		}
		benchkit.ParseProcEvents(buf[:max(n, 0)], func(e benchkit.ProcEvent) {
			w.lastNs = max(w.lastNs, e.Ns)
			switch {
			case e.Kind == benchkit.ProcFork && e.Pid == e.Tgid: // a process, not a thread
				w.events = append(w.events, procEvent{Ns: e.Ns, Fork: true, Parent: e.Parent, Pid: e.Tgid})
			case e.Kind == benchkit.ProcExit:
				w.events = append(w.events, procEvent{Ns: e.Ns, Pid: e.Tgid, Code: e.Code})
			}
		})
		w.mu.Unlock()
		select {
		case w.got <- struct{}{}:
		default:
		}
	}
}

// settle returns once every event before the call has been read: it
// forks a process, whose events come after them, and waits for those.
func (w *exitWatch) settle() error {
	now := benchkit.Monotonic()
	if err := exec.Command("/bin/true").Run(); err != nil {
		return err
	}
	deadline := time.After(10 * time.Second)
	for {
		w.mu.Lock()
		done, err := w.lastNs > now, w.err
		w.mu.Unlock()
		if done {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-w.got:
		case <-deadline:
			return errors.New("no process events from the kernel")
		}
	}
}

func (w *exitWatch) close() {
	w.closing.Store(true)
	<-w.done
	unix.Close(w.fd)
}

// leftovers are the processes of the namespace that tend left when it
// exited (see the top of this file). seed is the namespace's processes
// (but tend) as listed from /proc from seedNs (CLOCK_MONOTONIC) on, and
// a process forked after seedNs by one of them belongs to it too. Call it after tend
// has exited and settle.
func (w *exitWatch) leftovers(tend int, seedNs int64, seed []nsProc) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lost > 0 {
		return nil, fmt.Errorf("the kernel dropped process events (%d overruns): cannot tell what was left", w.lost)
	}
	// in holds the namespace's live processes, each with what it is.
	in := map[int]string{}
	for _, p := range seed {
		in[p.Pid] = p.Mode
		if p.Mode == "" {
			in[p.Pid] = p.Comm
		}
	}
	var tendExit int64
	var out []string
	for _, e := range w.events {
		if e.Ns < seedNs {
			continue // what it did then, the seed shows
		}
		switch {
		case e.Fork:
			// A pid that comes back belongs to whoever forked it now.
			delete(in, e.Pid)
			if e.Parent == tend {
				in[e.Pid] = "probe" // tend starts no program during a shutdown
			} else if what, ok := in[e.Parent]; ok {
				in[e.Pid] = "child of a " + what
			}
		case e.Pid == tend:
			if tendExit == 0 {
				tendExit = e.Ns
			}
		default:
			what, ok := in[e.Pid]
			if !ok {
				continue
			}
			killed := e.Code&0x7f == uint32(unix.SIGKILL)
			switch {
			case tendExit != 0 && e.Ns >= tendExit:
				out = append(out, fmt.Sprintf("pid %d (%s) exited %.1f ms after tend began to, wait status %#x",
					e.Pid, what, float64(e.Ns-tendExit)/1e6, e.Code))
			case killed && what != "true" && what != "probe":
				out = append(out, fmt.Sprintf("pid %d (%s) was SIGKILLed: by tend (see its log) or, when tend exited, by the kernel", e.Pid, what))
			default:
				continue
			}
			delete(in, e.Pid) // one report a process
		}
	}
	if tendExit == 0 {
		return out, errors.New("tend's exit was not among the process events")
	}
	return out, nil
}
