package control

import (
	"bytes"
	"context"
	"net"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"tend/api"
)

// fakeProg is one program of the fake loop's table.
type fakeProg struct {
	name     string
	state    string
	pid      int
	since    time.Time
	exit     *int
	restarts int
	oneshot  bool
	critical bool
	paused   bool
	// stuck: a start leaves it STARTING for good.
	stuck bool
	// crashy: a start goes STARTING → BACKOFF → FATAL.
	crashy bool
	gen    int // bumped on every change: a stale scheduled step is dropped
}

// sub is an events subscriber.
type sub struct {
	events chan api.Event
	done   <-chan struct{}
}

// fakeLoop plays the supervisor loop: one goroutine owns the table,
// answers Requests, and moves programs through their states on
// scheduled steps, sending events to subscribers without ever blocking.
type fakeLoop struct {
	reqs  chan Request
	step  chan func()
	flood chan int // emit that many events at once
	drop  chan struct{}
	quit  chan struct{}
	done  chan struct{}
	// dropped gets a token each time a subscriber is dropped.
	dropped chan struct{}
	// subscribed gets a token each time a subscriber is registered.
	subscribed chan struct{}

	// Owned by the loop goroutine.
	progs   []*fakeProg
	subs    []sub
	nextPid int

	mu   sync.Mutex
	seen []Request // every request, in order (without channels)
}

func newFakeLoop() *fakeLoop {
	now := time.Now()
	zero := 0
	l := &fakeLoop{
		reqs:       make(chan Request),
		step:       make(chan func()),
		flood:      make(chan int),
		drop:       make(chan struct{}),
		quit:       make(chan struct{}),
		done:       make(chan struct{}),
		dropped:    make(chan struct{}, 100),
		subscribed: make(chan struct{}, 1000),
		nextPid:    200,
		progs: []*fakeProg{
			{name: "web:0", state: "RUNNING", pid: 101, since: now.Add(-3 * time.Minute), critical: true},
			{name: "web:1", state: "RUNNING", pid: 102, since: now.Add(-2 * time.Hour), critical: true},
			{name: "db", state: "RUNNING", pid: 103, since: now.Add(-50 * time.Second)},
			{name: "migrate", state: "COMPLETED", since: now.Add(-time.Hour), exit: &zero, oneshot: true},
			{name: "stuck", state: "STOPPED", stuck: true},
			{name: "crashy", state: "STOPPED", crashy: true},
		},
	}
	return l
}

// start runs the loop until the test ends.
func (l *fakeLoop) start(t *testing.T) {
	go l.run()
	t.Cleanup(func() {
		close(l.quit)
		<-l.done
	})
}

func (l *fakeLoop) run() {
	defer close(l.done)
	for {
		select {
		case req := <-l.reqs:
			l.onRequest(req)
		case f := <-l.step:
			f()
		case n := <-l.flood:
			for i := range n {
				l.emit(api.Event{Program: "flood", State: "RUNNING", From: "STARTING", Pid: i, Time: time.Now()})
			}
		case <-l.drop:
			for _, s := range l.subs {
				close(s.events)
			}
			l.subs = nil
		case <-l.quit:
			return
		}
	}
}

// requests returns the requests seen so far.
func (l *fakeLoop) requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Request(nil), l.seen...)
}

// last returns the last request with the given verb.
func (l *fakeLoop) last(verb api.Verb) (Request, bool) {
	reqs := l.requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Verb == verb {
			return reqs[i], true
		}
	}
	return Request{}, false
}

// after schedules f on the loop, tagged with p's generation.
func (l *fakeLoop) after(d time.Duration, p *fakeProg, f func()) {
	gen := p.gen
	time.AfterFunc(d, func() {
		select {
		case l.step <- func() {
			if p.gen == gen {
				f()
			}
		}:
		case <-l.quit:
		}
	})
}

func (l *fakeLoop) set(p *fakeProg, state string, pid int) {
	from := p.state
	p.state, p.pid, p.since = state, pid, time.Now()
	p.gen++
	var exit *int
	if pid == 0 && from != "STOPPED" && from != "FATAL" && from != "COMPLETED" {
		code := 0
		exit, p.exit = &code, &code
	}
	l.emit(api.Event{Program: p.name, State: api.State(state), From: api.State(from), Pid: pid, Time: p.since, ExitCode: exit})
}

// emit sends ev to every subscriber, never blocking: one that is gone is
// forgotten, one that is full is dropped.
func (l *fakeLoop) emit(ev api.Event) {
	keep := l.subs[:0]
	for _, s := range l.subs {
		select {
		case <-s.done:
			continue
		default:
		}
		select {
		case s.events <- ev:
			keep = append(keep, s)
		default:
			close(s.events)
			select {
			case l.dropped <- struct{}{}:
			default:
			}
		}
	}
	clear(l.subs[len(keep):])
	l.subs = keep
}

func (l *fakeLoop) match(names []string) ([]*fakeProg, string) {
	if len(names) == 0 {
		return l.progs, ""
	}
	var out []*fakeProg
	for _, n := range names {
		found := false
		for _, p := range l.progs {
			if ok, _ := path.Match(n, p.name); ok {
				found = true
				if !containsProg(out, p) {
					out = append(out, p)
				}
			}
		}
		if !found {
			return nil, "no program matches " + n
		}
	}
	return out, ""
}

func containsProg(ps []*fakeProg, p *fakeProg) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func (l *fakeLoop) statuses(ps []*fakeProg) []api.Status {
	out := make([]api.Status, 0, len(ps))
	for _, p := range ps {
		health := ""
		if p.pid != 0 {
			health = "healthy"
		}
		out = append(out, api.Status{Name: p.name, State: api.State(p.state), Health: api.Health(health), Pid: p.pid, Since: p.since,
			ExitCode: p.exit, Restarts: p.restarts, Critical: p.critical, Paused: p.paused})
	}
	return out
}

func (l *fakeLoop) startProg(p *fakeProg) {
	if p.pid != 0 {
		return
	}
	l.nextPid++
	l.set(p, "STARTING", l.nextPid)
	switch {
	case p.stuck:
	case p.crashy:
		l.after(20*time.Millisecond, p, func() {
			l.set(p, "BACKOFF", 0)
			l.after(20*time.Millisecond, p, func() { l.set(p, "FATAL", 0) })
		})
	default:
		l.after(20*time.Millisecond, p, func() {
			l.set(p, "RUNNING", p.pid)
			if p.oneshot {
				l.after(20*time.Millisecond, p, func() { l.set(p, "COMPLETED", 0) })
			}
		})
	}
}

func (l *fakeLoop) stopProg(p *fakeProg, then func()) {
	if p.pid == 0 {
		if then != nil {
			then()
		}
		return
	}
	p.paused = false
	l.set(p, "STOPPING", p.pid)
	l.after(20*time.Millisecond, p, func() {
		l.set(p, "STOPPED", 0)
		if then != nil {
			then()
		}
	})
}

var fakeSignals = map[string]bool{"HUP": true, "SIGHUP": true, "TERM": true, "USR1": true, "1": true, "15": true}

func (l *fakeLoop) onRequest(req Request) {
	rec := req
	rec.Reply, rec.Events, rec.Done = nil, nil, nil
	l.mu.Lock()
	l.seen = append(l.seen, rec)
	l.mu.Unlock()

	if req.Verb == api.VerbEvents {
		l.subs = append(l.subs, sub{req.Events, req.Done})
		req.Reply <- api.Reply{}
		select {
		case l.subscribed <- struct{}{}:
		default:
		}
		return
	}
	if req.Verb == api.VerbReload || req.Verb == api.VerbShutdown {
		req.Reply <- api.Reply{}
		return
	}
	if req.Verb == api.VerbHealth {
		for _, p := range l.progs {
			if p.critical && p.state != "RUNNING" {
				req.Reply <- api.Reply{Reason: p.name + " is " + p.state}
				return
			}
		}
		req.Reply <- api.Reply{Healthy: true}
		return
	}
	ps, err := l.match(req.Names)
	if err != "" {
		req.Reply <- api.Reply{Err: err}
		return
	}
	switch req.Verb {
	case api.VerbStatus:
	case api.VerbStart:
		for _, p := range ps {
			l.startProg(p)
		}
	case api.VerbStop:
		for _, p := range ps {
			l.stopProg(p, nil)
		}
	case api.VerbRestart:
		for _, p := range ps {
			p.restarts++
			l.stopProg(p, func() { l.startProg(p) })
		}
	case api.VerbSignal:
		if !fakeSignals[req.Signal] {
			req.Reply <- api.Reply{Err: "bad signal " + req.Signal}
			return
		}
	case api.VerbPause:
		for _, p := range ps {
			if p.state == "RUNNING" {
				p.paused = true
				l.set(p, "PAUSED", p.pid)
			}
		}
	case api.VerbResume:
		for _, p := range ps {
			if p.state == "PAUSED" {
				p.paused = false
				l.set(p, "RUNNING", p.pid)
			}
		}
	default:
		req.Reply <- api.Reply{Err: "unknown verb " + string(req.Verb)}
		return
	}
	req.Reply <- api.Reply{Programs: l.statuses(ps)}
}

// env is a server on a real socket in a temporary directory, in front
// of a fake loop.
type env struct {
	t    *testing.T
	sock string
	loop *fakeLoop
	ln   net.Listener
	log  *syncBuffer
	// served gets Serve's result.
	served chan error
}

func newEnv(t *testing.T, tweak ...func(*options)) *env {
	t.Helper()
	return newEnvWithReqs(t, nil, tweak...)
}

// newEnvWithReqs is newEnv with the server sending to reqs, when not
// nil, instead of the fake loop.
func newEnvWithReqs(t *testing.T, reqs chan Request, tweak ...func(*options)) *env {
	t.Helper()
	opt := defaultOptions
	for _, f := range tweak {
		f(&opt)
	}
	sock := filepath.Join(t.TempDir(), "tend.sock")
	ln, err := Listen(sock, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, sock: sock, loop: newFakeLoop(), ln: ln, log: &syncBuffer{}, served: make(chan error, 1)}
	if reqs == nil {
		e.loop.start(t)
		reqs = e.loop.reqs
	}
	log := zerolog.New(zerolog.MultiLevelWriter(zerolog.NewTestWriter(t), e.log))
	go func() { e.served <- serve(ln, reqs, log, opt) }()
	t.Cleanup(e.stop)
	return e
}

// stop closes the listener and waits for Serve to return.
func (e *env) stop() { stopServing(e.t, "Serve", e.ln, e.served) }

// stopServing closes ln and waits for the server on it to send its
// result to served, failing t if it is an error or takes over 10 s. It
// puts a nil back, so a second stop finds the server stopped.
func stopServing(t *testing.T, name string, ln net.Listener, served chan error) {
	ln.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		served <- nil // for a second stop
	case <-time.After(10 * time.Second):
		t.Errorf("%s did not return within 10s of closing its listener", name)
	}
}

// ctl runs `tend ctl --socket SOCK ARGS...` through Main.
func (e *env) ctl(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(append([]string{"--socket", e.sock}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// mustCtl runs ctl and fails the test unless it exits with want.
func (e *env) mustCtl(want int, args ...string) (stdout, stderr string) {
	e.t.Helper()
	code, stdout, stderr := e.ctl(args...)
	if code != want {
		e.t.Fatalf("tend ctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	return stdout, stderr
}

// statusOf asks the loop for one program's state.
func (e *env) statusOf(name string) api.Status {
	e.t.Helper()
	progs, err := NewClient(e.sock).Status(context.Background(), []string{name})
	if err != nil || len(progs) != 1 {
		e.t.Fatalf("status %s: %v %v", name, progs, err)
	}
	return progs[0]
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor polls cond every 10ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
