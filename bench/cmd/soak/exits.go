package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
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
// connector for timing; this is the smaller part of it the soak needs.)

const (
	cnIdxProc         = 1
	cnValProc         = 1
	procCnMcastListen = 1
	procEventFork     = 0x00000001
	procEventExit     = 0x80000000
	nlmsgHdrLen       = 16
	cnMsgLen          = 20
)

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
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("netlink connector socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 32<<20)
	}
	// read wakes up now and then to see whether close wants it gone: the
	// fd is closed only after read has returned, so that its number,
	// taken again by the next socket, is never read by this watch.
	tv := unix.NsecToTimeval((200 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind netlink connector: %w", err)
	}
	msg := make([]byte, nlmsgHdrLen+cnMsgLen+4)
	le := binary.LittleEndian
	le.PutUint32(msg[0:], uint32(len(msg)))
	le.PutUint16(msg[4:], unix.NLMSG_DONE)
	le.PutUint32(msg[12:], uint32(os.Getpid()))
	le.PutUint32(msg[16:], cnIdxProc)
	le.PutUint32(msg[20:], cnValProc)
	le.PutUint16(msg[32:], 4)
	le.PutUint32(msg[36:], procCnMcastListen)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("subscribe to process events (needs root and CONFIG_PROC_EVENTS): %w", err)
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
	le := binary.LittleEndian
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
		b := buf[:max(n, 0)]
		for len(b) >= nlmsgHdrLen {
			l := int(le.Uint32(b[0:]))
			if l < nlmsgHdrLen || l > len(b) {
				break
			}
			m := b[nlmsgHdrLen:l]
			b = b[min((l+3)&^3, len(b)):]
			if len(m) < cnMsgLen+16 {
				continue
			}
			ev := m[cnMsgLen:]
			what, ts, d := le.Uint32(ev[0:]), int64(le.Uint64(ev[8:])), ev[16:]
			w.lastNs = max(w.lastNs, ts)
			switch {
			case what == procEventFork && len(d) >= 16:
				ptgid, cpid, ctgid := int(le.Uint32(d[4:])), int(le.Uint32(d[8:])), int(le.Uint32(d[12:]))
				if cpid == ctgid { // a process, not a thread
					w.events = append(w.events, procEvent{Ns: ts, Fork: true, Parent: ptgid, Pid: ctgid})
				}
			case what == procEventExit && len(d) >= 12:
				w.events = append(w.events, procEvent{Ns: ts, Pid: int(le.Uint32(d[4:])), Code: le.Uint32(d[8:])})
			}
		}
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
