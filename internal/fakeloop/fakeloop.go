// Package fakeloop plays tend's supervisor loop for the tests of the
// control server (package control) and of `tend ctl` (package ctl): one
// goroutine owns a table of six programs, answers api.Requests, and
// moves programs through their states on timers, sending events to
// subscribers without ever blocking, as the real loop does. Only tests
// import it.
package fakeloop

import (
	"bytes"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tend/api"
	"tend/logs"
)

// prog is one program of the fake loop's table.
type prog struct {
	name     string
	state    api.State
	pid      int
	since    time.Time
	exit     *int
	restarts int
	oneshot  bool
	critical bool
	// stuck: a start leaves it STARTING for good.
	stuck bool
	// crashy: a start goes STARTING → BACKOFF → FATAL.
	crashy bool
	gen    int // bumped on every change: a stale scheduled step is dropped
	// started is when its process started; nextRun when it runs next
	// (migrate, as a scheduled oneshot).
	started, nextRun time.Time
	// ring keeps its output; nil: inherited, nothing kept.
	ring *logs.Ring
}

// sub is an events subscriber.
type sub struct {
	events chan api.Event
	done   <-chan struct{}
}

// Loop is the fake loop. Its table: web:0 and web:1 (critical) and db
// RUNNING, migrate (a oneshot, scheduled) COMPLETED, stuck and crashy
// STOPPED. A start takes 20 ms to RUNNING (then 20 ms more to COMPLETED
// for migrate), a stop 20 ms from STOPPING to STOPPED; stuck never gets
// past STARTING, crashy goes to BACKOFF, then FATAL. web:0 has written
// "web0 line 1" to "web0 line 3" and db "db oops" to its stderr; stuck's
// output is inherited: nothing kept. Scale takes "web" only.
type Loop struct {
	// Reqs is where the server sends requests.
	Reqs chan api.Request
	// Flood makes the loop emit that many events at once.
	Flood chan int
	// Drop makes the loop drop every subscriber, as one that fell behind.
	Drop chan struct{}
	// Dropped gets a token each time a subscriber is dropped for being
	// full, Subscribed each time one is registered.
	Dropped, Subscribed chan struct{}
	// Output has the program of the first word write the rest as a line
	// of its stdout: "web:0 hello".
	Output chan string

	step chan func()
	quit chan struct{}
	done chan struct{}

	// Owned by the loop goroutine.
	progs   []*prog
	subs    []sub
	nextPid int

	mu   sync.Mutex
	seen []api.Request // every request, in order (without channels)
}

// Start runs a new loop until the test ends.
func Start(t testing.TB) *Loop {
	now := time.Now()
	zero := 0
	l := &Loop{
		Reqs:       make(chan api.Request),
		Flood:      make(chan int),
		Drop:       make(chan struct{}),
		Dropped:    make(chan struct{}, 100),
		Subscribed: make(chan struct{}, 1000),
		step:       make(chan func()),
		quit:       make(chan struct{}),
		done:       make(chan struct{}),
		Output:     make(chan string),
		nextPid:    200,
		progs: []*prog{
			{name: "web:0", state: api.Running, pid: 101, since: now.Add(-3 * time.Minute), started: now.Add(-3 * time.Minute), critical: true},
			{name: "web:1", state: api.Running, pid: 102, since: now.Add(-2 * time.Hour), started: now.Add(-5 * time.Hour), critical: true},
			{name: "db", state: api.Running, pid: 103, since: now.Add(-50 * time.Second), started: now.Add(-50 * time.Second)},
			{name: "migrate", state: api.Completed, since: now.Add(-time.Hour), exit: &zero, oneshot: true, nextRun: now.Add(10 * time.Minute)},
			{name: "stuck", state: api.Stopped, stuck: true},
			{name: "crashy", state: api.Stopped, crashy: true},
		},
	}
	for _, p := range l.progs {
		if p.name != "stuck" {
			p.ring = logs.NewRing()
		}
	}
	keep(l.progs[0], logs.StreamStdout, "web0 line 1\nweb0 line 2\nweb0 line 3\n")
	keep(l.progs[2], logs.StreamStderr, "db oops\n")
	go l.run()
	t.Cleanup(func() {
		close(l.quit)
		<-l.done
	})
	return l
}

func (l *Loop) run() {
	defer close(l.done)
	for {
		select {
		case req := <-l.Reqs:
			l.onRequest(req)
		case f := <-l.step:
			f()
		case n := <-l.Flood:
			for i := range n {
				l.emit(api.Event{Program: "flood", State: api.Running, From: api.Starting, Pid: i, Time: time.Now()})
			}
		case out := <-l.Output:
			name, line, _ := strings.Cut(out, " ")
			for _, p := range l.progs {
				if p.name == name {
					keep(p, logs.StreamStdout, line+"\n")
				}
			}
		case <-l.Drop:
			for _, s := range l.subs {
				close(s.events)
			}
			l.subs = nil
		case <-l.quit:
			return
		}
	}
}

// Requests returns the requests seen so far.
func (l *Loop) Requests() []api.Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]api.Request(nil), l.seen...)
}

// Last returns the last request with the given verb.
func (l *Loop) Last(verb api.Verb) (api.Request, bool) {
	reqs := l.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Verb == verb {
			return reqs[i], true
		}
	}
	return api.Request{}, false
}

// after schedules f on the loop, tagged with p's generation.
func (l *Loop) after(d time.Duration, p *prog, f func()) {
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

// keep has p write text to its stream, through a copier, as a program's
// output goes.
func keep(p *prog, stream, text string) {
	_, _ = logs.CopyTo(io.NopCloser(strings.NewReader(text)),
		logs.Sink{Dest: logs.NewDest(io.Discard), Program: p.name, Stream: stream, Ring: p.ring})
}

func (l *Loop) set(p *prog, state api.State, pid int) {
	from := p.state
	p.state, p.pid, p.since = state, pid, time.Now()
	if pid != 0 && from.Down() {
		p.started = p.since
	}
	p.gen++
	var exit *int
	if pid == 0 && from != api.Stopped && from != api.Fatal && from != api.Completed {
		code := 0
		exit, p.exit = &code, &code
	}
	l.emit(api.Event{Program: p.name, State: state, From: from, Pid: pid, Time: p.since, ExitCode: exit})
}

// emit sends ev to every subscriber, never blocking: one that is gone is
// forgotten, one that is full is dropped.
func (l *Loop) emit(ev api.Event) {
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
			case l.Dropped <- struct{}{}:
			default:
			}
		}
	}
	clear(l.subs[len(keep):])
	l.subs = keep
}

func (l *Loop) match(names []string) ([]*prog, string) {
	if len(names) == 0 {
		return l.progs, ""
	}
	var out []*prog
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

func containsProg(ps []*prog, p *prog) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func (l *Loop) statuses(ps []*prog) []api.Status {
	out := make([]api.Status, 0, len(ps))
	for _, p := range ps {
		var health api.Health
		var cpu *float64
		var mem *uint64
		if p.pid != 0 {
			health = api.HealthHealthy
			c, m := 1.25, uint64(48<<20) // what the usage of a live program reads
			cpu, mem = &c, &m
		}
		st := api.Status{Name: p.name, State: p.state, Health: health, Pid: p.pid, Since: p.since,
			ExitCode: p.exit, Restarts: p.restarts, Critical: p.critical, NextRun: p.nextRun,
			CPUSeconds: cpu, MemoryBytes: mem, Ready: p.state == api.Running}
		if p.pid != 0 {
			st.Started = p.started
		}
		out = append(out, st)
	}
	return out
}

func (l *Loop) startProg(p *prog) {
	if p.pid != 0 {
		return
	}
	l.nextPid++
	l.set(p, api.Starting, l.nextPid)
	switch {
	case p.stuck:
	case p.crashy:
		l.after(20*time.Millisecond, p, func() {
			l.set(p, api.Backoff, 0)
			l.after(20*time.Millisecond, p, func() { l.set(p, api.Fatal, 0) })
		})
	default:
		l.after(20*time.Millisecond, p, func() {
			l.set(p, api.Running, p.pid)
			if p.oneshot {
				l.after(20*time.Millisecond, p, func() { l.set(p, api.Completed, 0) })
			}
		})
	}
}

func (l *Loop) stopProg(p *prog, then func()) {
	if p.pid == 0 {
		if then != nil {
			then()
		}
		return
	}
	l.set(p, api.Stopping, p.pid)
	l.after(20*time.Millisecond, p, func() {
		l.set(p, api.Stopped, 0)
		if then != nil {
			then()
		}
	})
}

// signals are the signals the fake loop knows.
var signals = []string{"HUP", "SIGHUP", "TERM", "USR1", "1", "15"}

func (l *Loop) onRequest(req api.Request) {
	rec := req
	rec.Reply, rec.Events, rec.Done = nil, nil, nil
	l.mu.Lock()
	l.seen = append(l.seen, rec)
	l.mu.Unlock()

	switch req.Verb {
	case api.VerbEvents:
		l.subs = append(l.subs, sub{req.Events, req.Done})
		req.Reply <- api.Reply{}
		select {
		case l.Subscribed <- struct{}{}:
		default:
		}
		return
	case api.VerbReload, api.VerbShutdown:
		req.Reply <- api.Reply{}
		return
	case api.VerbScale:
		req.Reply <- l.scale(req.Names[0], req.Instances)
		return
	case api.VerbHealth:
		for _, p := range l.progs {
			if p.critical && p.state != api.Running {
				req.Reply <- api.Reply{Reason: p.name + " is " + string(p.state)}
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
	case api.VerbLogs:
		var rings []*logs.Ring
		for _, p := range ps {
			if p.ring != nil {
				rings = append(rings, p.ring)
			}
		}
		if len(rings) == 0 {
			req.Reply <- api.Reply{Err: "logs: " + ps[0].name + "'s output is inherited by tend's stdout and stderr; nothing kept"}
			return
		}
		req.Reply <- api.Reply{Logs: logs.NewView(rings)}
		return
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
		if !slices.Contains(signals, req.Signal) {
			req.Reply <- api.Reply{Err: "bad signal " + req.Signal}
			return
		}
	case api.VerbPause:
		for _, p := range ps {
			if p.state == api.Running {
				l.set(p, api.Paused, p.pid)
			}
		}
	case api.VerbResume:
		for _, p := range ps {
			if p.state == api.Paused {
				l.set(p, api.Running, p.pid)
			}
		}
	default:
		req.Reply <- api.Reply{Err: "unknown verb " + string(req.Verb)}
		return
	}
	req.Reply <- api.Reply{Programs: l.statuses(ps)}
}

// scale has n instances of web: new ones start, surplus ones stop,
// highest first, and go once stopped.
func (l *Loop) scale(group string, n int) api.Reply {
	if group != "web" {
		return api.Reply{Err: "no program matches " + group}
	}
	var web []*prog
	for _, p := range l.progs {
		if strings.HasPrefix(p.name, "web:") {
			web = append(web, p)
		}
	}
	for i := len(web); i < n; i++ {
		p := &prog{name: "web:" + strconv.Itoa(i), state: api.Stopped, ring: logs.NewRing()}
		l.progs = slices.Insert(l.progs, i, p)
		web = append(web, p)
		l.startProg(p)
	}
	for i := len(web) - 1; i >= n; i-- {
		p := web[i]
		l.stopProg(p, func() {
			l.progs = slices.DeleteFunc(l.progs, func(q *prog) bool { return q == p })
		})
	}
	return api.Reply{Programs: l.statuses(web)}
}

// Main is `tend ctl`'s entry point: ctl.Main.
type Main func(args []string, stdout, stderr io.Writer) int

// Ctl runs `tend ctl --socket SOCK ARGS...` through main.
func Ctl(main Main, sock string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = main(append([]string{"--socket", sock}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// MustCtl runs Ctl and fails the test unless tend ctl exits with want.
func MustCtl(t testing.TB, main Main, sock string, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := Ctl(main, sock, args...)
	if code != want {
		t.Fatalf("tend ctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	return stdout, stderr
}
