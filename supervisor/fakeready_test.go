package supervisor

import (
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"tend/notify"
)

// The notify sockets and readiness fds of the loop's fake kernel: a fake
// process says it is ready, and keeps its watchdog, as its script says.

// fakeNotify is the notify server: news goes straight to Take.
type fakeNotify struct {
	mu      sync.Mutex
	wake    chan struct{}
	pending []notifyNote
	socks   map[string]*fakeSock
	closed  bool
}

type fakeSock struct {
	n    *fakeNotify
	path string
	pgid int             // as Expect set it; guarded by n.mu
	held []notify.Update // what came before Expect, as the real socket holds it
}

func (n *fakeNotify) Open(name string, uid, gid int) (notifySocket, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := &fakeSock{n: n, path: "/notify/" + name}
	n.socks[k.path] = k
	return k, nil
}

func (n *fakeNotify) Wake() <-chan struct{} { return n.wake }

func (n *fakeNotify) Take(dst []notifyNote) []notifyNote {
	n.mu.Lock()
	defer n.mu.Unlock()
	dst = append(dst, n.pending...)
	n.pending = nil
	return dst
}

func (n *fakeNotify) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	return nil
}

func (k *fakeSock) Path() string { return k.path }

func (k *fakeSock) Expect(pgid int) {
	n := k.n
	n.mu.Lock()
	k.pgid = pgid
	held := k.held
	k.held = nil
	woke := false
	for _, u := range held {
		if u.Pgid == pgid {
			n.pending = append(n.pending, notifyNote{path: k.path, Update: u})
			woke = true
		}
	}
	n.mu.Unlock()
	if woke {
		select {
		case n.wake <- struct{}{}:
		default:
		}
	}
}

func (k *fakeSock) Close() error {
	k.n.mu.Lock()
	defer k.n.mu.Unlock()
	delete(k.n.socks, k.path)
	return nil
}

// send is a datagram from a process of group pgid to the socket at
// path. Like the real socket, it counts only from the expected group,
// and holds what a group says before Expect names it (a process may
// speak before its spawner has recorded its pid).
func (n *fakeNotify) send(path string, pgid int, u notify.Update) {
	n.mu.Lock()
	k := n.socks[path]
	u.Pgid = pgid
	if k != nil && k.pgid != pgid {
		k.held = append(k.held, u)
	}
	if k == nil || k.pgid != pgid {
		n.mu.Unlock()
		return
	}
	n.pending = append(n.pending, notifyNote{path: path, Update: u})
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// fakePipe is a readiness fd: the fake process "writes its newline" by
// calling ready.
type fakePipe struct {
	mu     sync.Mutex
	report func(notify.FdEvent)
	early  []notify.FdEvent // what came before Watch
	closed bool
}

func (p *fakePipe) ChildEnd() *os.File   { return nil }
func (p *fakePipe) CloseChildEnd() error { return nil }

func (p *fakePipe) Watch(_ zerolog.Logger, _ string, report func(notify.FdEvent)) {
	p.mu.Lock()
	p.report = report
	early := p.early
	p.early = nil
	p.mu.Unlock()
	for _, e := range early {
		report(e)
	}
}

func (p *fakePipe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}

func (p *fakePipe) event(e notify.FdEvent) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	report := p.report
	if report == nil {
		p.early = append(p.early, e)
	}
	p.mu.Unlock()
	if report != nil {
		go report(e) // the real one reports from its own goroutine
	}
}

// speak schedules what the fake process pid, just spawned from c, says
// of its readiness. f.mu is held.
func (f *fakeOS) speak(pid int, c Command, sc script) {
	if len(c.ExtraFiles) > 0 && f.pipe != nil {
		pp := f.pipe
		f.pipe = nil
		if sc.ready >= 0 {
			time.AfterFunc(sc.ready, func() {
				if f.isAlive(pid) {
					pp.event(notify.FdReady)
				}
			})
		}
		return
	}
	path := ""
	for _, kv := range c.Env {
		if v, ok := strings.CutPrefix(kv, notify.EnvVar+"="); ok {
			path = v
		}
	}
	if path == "" || f.notify == nil {
		return
	}
	n := f.notify
	say := func(at time.Duration, u notify.Update) {
		time.AfterFunc(at, func() {
			if f.isAlive(pid) {
				n.send(path, pid, u)
			}
		})
	}
	if sc.ready >= 0 {
		say(sc.ready, notify.Update{ReadySeen: true, Phase: notify.Ready})
	}
	if sc.trigger > 0 {
		say(sc.trigger, notify.Update{WatchdogTrigger: true})
	}
	if sc.keepAlive > 0 {
		var tick func()
		start := time.Now()
		tick = func() {
			if !f.isAlive(pid) || (sc.keepFor > 0 && time.Since(start) > sc.keepFor) {
				return
			}
			n.send(path, pid, notify.Update{Watchdog: true})
			time.AfterFunc(sc.keepAlive, tick)
		}
		time.AfterFunc(sc.keepAlive, tick)
	}
}

func (f *fakeOS) isAlive(pid int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.alive[pid]
}
