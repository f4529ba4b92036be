package main

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"tend/bench/internal/benchkit"
)

// This file follows every process descended from svbench through the
// kernel's process-events connector (CONFIG_PROC_EVENTS, a netlink
// socket; root only). Each fork, exec and exit arrives as an event with
// the kernel's CLOCK_MONOTONIC time of the event itself, so "all 100
// programs exist" and "the supervisor has exited" are read to the
// nanosecond without polling /proc while the supervisor works: a poller
// would share the two CPUs with what it measures.

// proc is one process (thread group) descended from svbench.
type proc struct {
	Tgid   int
	Parent int // tgid of the process that forked it
	// Top is the child of svbench this process descends from (a
	// supervisor), and Depth its generation below Top: 0 for Top itself,
	// 1 for its children.
	Top    int
	Depth  int
	ForkNs int64 // when it was forked
	// ExecNs holds the time of each of its execve calls, in order.
	ExecNs []int64
	// ExitNs is when its last thread exited: the process is gone (a
	// zombie, about to be reaped); 0 while it lives.
	ExitNs int64
	// threads counts its live threads, from fork and exit events: the
	// pid space here is small (pid_max may be 32768), and once a process
	// is gone its pid may come back as someone else's.
	threads int
}

// procTree is what the connector has said about svbench's descendants.
// The reading goroutine owns the socket; mu guards the rest.
type procTree struct {
	fd   int
	self int

	mu    sync.Mutex
	cond  *sync.Cond
	procs map[int]*proc // by tgid; the records of exited processes stay
	byTop map[int][]*proc
	// lost counts receive overruns (ENOBUFS): events were dropped, and
	// a measurement that spans one cannot be trusted.
	lost int
	err  error
	// lastNs is the time of the latest event read: a waiter that wants
	// every event up to time T waits until lastNs passes T, and sets
	// settling to be woken by any event.
	lastNs   int64
	settling bool
}

func openProcTree() (*procTree, error) {
	// A big buffer: every process event on the machine comes through it,
	// and a burst of 100 spawns is 400 events or more.
	fd, err := benchkit.OpenProcEvents(64 << 20)
	if err != nil {
		return nil, err
	}
	t := &procTree{fd: fd, self: os.Getpid(), procs: map[int]*proc{}, byTop: map[int][]*proc{}}
	t.cond = sync.NewCond(&t.mu)
	t.procs[t.self] = &proc{Tgid: t.self, threads: 1}
	go t.read()
	// Make sure events flow before anything is measured: fork a process
	// and wait for its events.
	if err := t.settle(); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("no process events from the kernel: %w", err)
	}
	return t, nil
}

// read receives events until the socket fails.
func (t *procTree) read() {
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(t.fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		t.mu.Lock()
		switch {
		case errors.Is(err, unix.ENOBUFS):
			t.lost++
			t.cond.Broadcast()
		case err != nil:
			t.err = err
			t.cond.Broadcast()
			t.mu.Unlock()
			return
		default:
			if t.parse(buf[:n]) {
				t.cond.Broadcast()
			}
		}
		t.mu.Unlock()
	}
}

// parse handles the netlink messages of one datagram, t.mu held, and
// reports whether an event was about one of svbench's descendants (or is
// the first past a time a waiter of settle wants).
func (t *procTree) parse(b []byte) (ours bool) {
	benchkit.ParseProcEvents(b, func(e benchkit.ProcEvent) {
		if e.Ns > t.lastNs {
			t.lastNs = e.Ns
			ours = ours || t.settling
		}
		switch e.Kind {
		case benchkit.ProcFork:
			if e.Pid != e.Tgid {
				// A new thread of Tgid. (Its "parent" is the parent of the
				// whole thread group, not the thread that made it.)
				if p := t.procs[e.Tgid]; p != nil && p.ExitNs == 0 {
					p.threads++
				}
				return
			}
			pp := t.procs[e.Parent]
			if pp == nil || pp.ExitNs != 0 {
				return // not one of ours
			}
			p := &proc{Tgid: e.Tgid, Parent: e.Parent, ForkNs: e.Ns, Top: e.Tgid, threads: 1}
			if e.Parent != t.self {
				p.Top, p.Depth = pp.Top, pp.Depth+1
			}
			t.procs[e.Tgid] = p
			t.byTop[p.Top] = append(t.byTop[p.Top], p)
			ours = true
		case benchkit.ProcExec:
			if p := t.procs[e.Tgid]; p != nil && p.ExitNs == 0 && p.Tgid != t.self {
				p.ExecNs = append(p.ExecNs, e.Ns)
				ours = true
			}
		case benchkit.ProcExit:
			if p := t.procs[e.Tgid]; p != nil && p.ExitNs == 0 && p.Tgid != t.self {
				if p.threads--; p.threads <= 0 {
					p.ExitNs = e.Ns
				}
				ours = true
			}
		}
	})
	return ours
}

// waitUntil waits until cond, evaluated with t.mu held after each batch
// of events, is true; false after timeout or a socket error.
func (t *procTree) waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		t.mu.Lock()
		t.cond.Broadcast()
		t.mu.Unlock()
	})
	defer timer.Stop()
	t.mu.Lock()
	defer t.mu.Unlock()
	for !cond() {
		if t.err != nil || time.Now().After(deadline) {
			return false
		}
		t.cond.Wait()
	}
	return true
}

// settle waits until the events up to now have been read: after it, the
// records hold every fork, exec and exit that happened before the call.
func (t *procTree) settle() error {
	now := benchkit.Monotonic()
	t.mu.Lock()
	t.settling = true
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.settling = false
		t.mu.Unlock()
	}()
	// Any event after now proves the queue is read up to now; forking a
	// process makes one if the machine is quiet.
	if err := exec1("/bin/true"); err != nil {
		return err
	}
	if !t.waitUntil(5*time.Second, func() bool { return t.lastNs > now }) {
		return errors.New("process events stopped arriving")
	}
	return nil
}

// lostEvents is how many overruns the socket has had so far.
func (t *procTree) lostEvents() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lost
}

// tree lists copies of the records of top and its descendants: top is
// a child of svbench, the supervisor.
func (t *procTree) tree(top int) []proc {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []proc
	for _, p := range t.byTop[top] {
		c := *p
		c.ExecNs = append([]int64(nil), p.ExecNs...)
		out = append(out, c)
	}
	return out
}

// get returns a copy of pid's record.
func (t *procTree) get(pid int) (proc, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.procs[pid]
	if p == nil {
		return proc{}, false
	}
	c := *p
	c.ExecNs = append([]int64(nil), p.ExecNs...)
	return c, true
}

// spawned waits until top has n programs: descendants at depth that
// have made their execs-th exec. It returns the time of the last of
// those execs (the moment the n-th program started running its code).
func (t *procTree) spawned(top, depth, execs, n int, timeout time.Duration) (int64, error) {
	var last int64
	count := 0
	ok := t.waitUntil(timeout, func() bool {
		count, last = 0, 0
		for _, p := range t.byTop[top] {
			if p.Depth == depth && len(p.ExecNs) >= execs {
				count++
				last = max(last, p.ExecNs[execs-1])
			}
		}
		return count >= n
	})
	if !ok {
		return 0, fmt.Errorf("%d of %d programs started after %s", count, n, timeout)
	}
	return last, nil
}

// killTree sends SIGKILL to top and to every descendant that has not
// exited: the cleanup after a measurement that does not time the stop,
// or after a failure. (A live record's pid cannot have been reused.)
func (t *procTree) killTree(top int) {
	for _, p := range t.tree(top) {
		if p.ExitNs == 0 {
			_ = unix.Kill(p.Tgid, unix.SIGKILL)
		}
	}
}
