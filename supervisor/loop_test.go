package supervisor

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tend/api"
	"tend/config"
	"tend/internal/execpath"
	"tend/reaper"
	"tend/signals"
)

// The loop under fake time (testing/synctest) with a fake kernel: fake
// processes follow a script (run this long, exit with this code, answer
// TERM after this long, or never), so backoff, startsecs, stopwaitsecs
// and shutdown_timeout are checked to the nanosecond with no real sleep.

// script is how a fake process behaves.
type script struct {
	runFor time.Duration // how long it runs before exiting on its own; <0: forever
	code   int           // its exit code then
	onTerm time.Duration // how long it takes to exit on its stop signal; <0: ignores it
	// workers are processes it starts in its process group, named
	// NAME.w, that run until a signal ends them (they outlive it);
	// workerTerm is how long one takes to exit on TERM (<0: ignores it).
	workers    int
	workerTerm time.Duration
	firstOnly  bool // workers in the first run only
	// lives, when set, replaces runFor: the n-th start runs lives[n],
	// the last one repeating; codes, when set, replaces code so.
	lives []time.Duration
	codes []int
	// With a notify socket (NOTIFY_SOCKET in its environment) or a
	// readiness fd, ready is how long after its start it says it is
	// ready (<0: never); with a socket, it sends WATCHDOG=1 every
	// keepAlive (0: never) until keepFor after its start (0: as long as
	// it runs), and WATCHDOG=trigger at trigger (0: never).
	ready     time.Duration
	keepAlive time.Duration
	keepFor   time.Duration
	trigger   time.Duration
}

var forever = script{runFor: -1, onTerm: 0}

type event struct {
	at   time.Duration // since the test began
	what string        // "spawn NAME", "kill NAME SIG", "exit NAME CODE"
}

// fakeOS is the kernel as the loop sees it. The loop and the scripts'
// timer goroutines both call it, hence the mutex.
type fakeOS struct {
	mu      sync.Mutex
	t0      time.Time
	scripts map[string]script
	nextPid int
	names   map[int]string
	alive   map[int]bool
	group   map[int]int // pid → process group
	spawns  map[string]int
	pending []reaper.Exit
	events  []event
	chld    chan os.Signal
	skew    time.Duration // how far the clock jumped while "frozen"
	// runDelay is the fake run delay of tend's threads: a stall adds to
	// it, a freeze does not.
	runDelay time.Duration
	drains   int  // calls to drain
	muted    bool // SIGCHLD muted: exits raise nothing
	// lateNotice: exits raise no SIGCHLD, as when the loop is so busy
	// that a notice has not reached it by the time a timer fires.
	lateNotice bool
	mutes      int // calls to muteChild(true)
	// onUnmute, when set, runs as SIGCHLD is unmuted, before the
	// loop's next drain: an exit in the window between the two.
	onUnmute func()
	// afterUnmute, when set, runs once SIGCHLD has its handler back.
	afterUnmute func()
	// forwarding is the forwarding handler's target; handled counts
	// the signals it has "sent" that the loop has not yet asked about.
	forwarding int
	handled    map[syscall.Signal]int
	// quiet is what the loop asked of the forwarding handler, per
	// signal it forwards.
	quiet map[syscall.Signal]bool
	// stamp is the handler's note of the first stop signal it sent
	// (signals.StopForwarded): its target, 0 for none, and when.
	stampTarget int
	stampAt     time.Time
	// stampInFlight: the next take finds the stop signal in flight
	// (reported as sent now, and kept for the take after).
	stampInFlight bool
	// ticks is the boot clock (bootTicks), fixed.
	ticks uint64
	// cmds are the Commands spawned, by name.
	cmds map[string][]Command
	// notify is the fake notify server, once the loop has opened it;
	// pipe the readiness pipe the next spawn takes.
	notify *fakeNotify
	pipe   *fakePipe
}

func newFakeOS(scripts map[string]script) *fakeOS {
	return &fakeOS{t0: time.Now(), scripts: scripts, nextPid: 100,
		names: map[int]string{}, alive: map[int]bool{}, group: map[int]int{}, spawns: map[string]int{}, chld: make(chan os.Signal, 1),
		handled: map[syscall.Signal]int{}, cmds: map[string][]Command{}}
}

func (f *fakeOS) ops() osOps {
	return osOps{
		spawn:     f.spawn,
		kill:      f.kill,
		drain:     f.drain,
		leftovers: func(bool, syscall.Signal, reaper.Skip) (reaper.Swept, error) { return reaper.Swept{}, nil },
		bootTicks: func() uint64 {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.ticks
		},
		runDelay: func() (time.Duration, bool) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.runDelay, true
		},
		groupSize: func(pgid int) int {
			f.mu.Lock()
			defer f.mu.Unlock()
			return len(f.members(pgid, true))
		},
		subreaper: func() error { return nil },
		muteChild: f.muteChild,
		installForwarder: func(sigs []syscall.Signal, quiet bool) ([]syscall.Signal, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.quiet == nil {
				f.quiet = map[syscall.Signal]bool{}
			}
			for _, sig := range sigs {
				f.quiet[sig] = quiet
			}
			return sigs, nil
		},
		forwardTo: func(target int) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.forwarding = target
		},
		forwarded: func(sig syscall.Signal) int {
			f.mu.Lock()
			defer f.mu.Unlock()
			n := f.handled[sig]
			delete(f.handled, sig)
			return n
		},
		stopForwarded: func() (int, uint64, time.Duration, bool) {
			f.mu.Lock()
			defer f.mu.Unlock()
			target, at := f.stampTarget, f.stampAt
			if target == 0 {
				return 0, 0, 0, false
			}
			if f.stampInFlight {
				f.stampInFlight = false
				return target, f.ticks + 1, 0, true
			}
			f.stampTarget = 0
			return target, f.ticks, time.Since(at), true
		},
		now: func() time.Time {
			f.mu.Lock()
			defer f.mu.Unlock()
			return time.Now().Add(f.skew)
		},
		notifyServer: func(string, zerolog.Logger) (notifyServer, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.notify = &fakeNotify{wake: make(chan struct{}, 1), socks: map[string]*fakeSock{}}
			return f.notify, nil
		},
		readyPipe: func(int) (readyPipe, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.pipe = &fakePipe{}
			return f.pipe, nil
		},
	}
}

// freeze makes the clock jump by d with nothing having run, which is
// what a thawed container sees: its timers fire d late.
func (f *fakeOS) freeze(d time.Duration) {
	f.mu.Lock()
	f.skew += d
	f.mu.Unlock()
}

// stall is a freeze that the kernel counts as time waiting for a CPU:
// the host, not the container's freezer, kept tend from running.
func (f *fakeOS) stall(d time.Duration) {
	f.mu.Lock()
	f.skew += d
	f.runDelay += d
	f.mu.Unlock()
}

func (f *fakeOS) record(what string) {
	f.events = append(f.events, event{at: time.Since(f.t0), what: what})
}

func (f *fakeOS) spawn(c Command) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := c.Argv[0]
	sc, ok := f.scripts[name]
	if !ok {
		return 0, &ExecError{Path: name, Err: execpath.ErrNotFound}
	}
	f.nextPid++
	pid := f.nextPid
	f.names[pid], f.alive[pid], f.group[pid] = name, true, pid
	f.record("spawn " + name)
	f.cmds[name] = append(f.cmds[name], c)
	runFor, code := sc.runFor, sc.code
	if len(sc.lives) > 0 {
		runFor = sc.lives[min(f.spawns[name], len(sc.lives)-1)]
	}
	if len(sc.codes) > 0 {
		code = sc.codes[min(f.spawns[name], len(sc.codes)-1)]
	}
	f.spawns[name]++
	if runFor >= 0 {
		time.AfterFunc(runFor, func() { f.exit(pid, unix.WaitStatus(code<<8)) })
	}
	f.speak(pid, c, sc)
	workers := sc.workers
	if sc.firstOnly && f.spawns[name] > 1 {
		workers = 0
	}
	for range workers {
		f.nextPid++
		f.names[f.nextPid], f.alive[f.nextPid], f.group[f.nextPid] = name+".w", true, pid
	}
	return pid, nil
}

// members lists the processes of group pgid: the live ones, and the
// zombies not yet reaped too when zombies is set (the kernel counts
// them until they are reaped).
func (f *fakeOS) members(pgid int, zombies bool) []int {
	var out []int
	for pid, g := range f.group {
		if g == pgid && f.alive[pid] {
			out = append(out, pid)
		}
	}
	if zombies {
		for _, e := range f.pending {
			if f.group[e.Pid] == pgid {
				out = append(out, e.Pid)
			}
		}
	}
	return out
}

func (f *fakeOS) kill(pid int, sig syscall.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	targets := []int{pid}
	if pid < 0 {
		targets = f.members(-pid, sig == 0)
		slices.Sort(targets)
	} else if !f.alive[pid] {
		targets = nil
	}
	if len(targets) == 0 {
		return unix.ESRCH
	}
	if sig == 0 {
		return nil
	}
	for _, pid := range targets {
		f.signal(pid, sig)
	}
	return nil
}

// signal delivers sig to the live process pid, as its script says.
func (f *fakeOS) signal(pid int, sig syscall.Signal) {
	name := f.names[pid]
	f.record(fmt.Sprintf("kill %s %s", name, signals.Name(sig)))
	onTerm := f.scripts[name].onTerm
	if worker, ok := strings.CutSuffix(name, ".w"); ok {
		onTerm = f.scripts[worker].workerTerm
	}
	switch {
	case sig == unix.SIGKILL:
		go f.exit(pid, unix.WaitStatus(unix.SIGKILL))
	case sig != unix.SIGTERM && sig != unix.SIGINT && sig != unix.SIGQUIT:
		// STOP, CONT, USR1…: recorded, and the fake process carries on.
	case onTerm >= 0:
		time.AfterFunc(onTerm, func() { f.exit(pid, unix.WaitStatus(sig)) })
	}
}

func (f *fakeOS) muteChild(on bool) error {
	f.mu.Lock()
	hook := f.onUnmute
	f.mu.Unlock()
	if !on && hook != nil {
		hook() // still muted: whatever exits now raises nothing
	}
	f.mu.Lock()
	f.muted = on
	if on {
		f.mutes++
	}
	after := f.afterUnmute
	f.mu.Unlock()
	if !on && after != nil {
		after()
	}
	return nil
}

// lateHandler is a SIGCHLD handler that was already running when the
// loop muted SIGCHLD, and mutes it again only after the loop has
// unmuted it: SIGCHLD ends up muted, with the handler's notice on its
// way to the loop.
func (f *fakeOS) lateHandler() {
	f.mu.Lock()
	f.muted = true
	f.mu.Unlock()
	select {
	case f.chld <- unix.SIGCHLD:
	default:
	}
}

// handlerSends is the forwarding handler taking sig: it "sends" it to the
// target of the moment, as the real one does, counts it, and notes a
// stop signal. Forwarding quietly, the handler would not deliver it to
// the loop: a test does, or does not.
func (f *fakeOS) handlerSends(sig syscall.Signal) {
	f.mu.Lock()
	target := f.forwarding
	f.mu.Unlock()
	if target != 0 {
		f.kill(target, sig)
		f.mu.Lock()
		if signals.Stop(sig) && f.stampTarget == 0 {
			f.stampTarget, f.stampAt = target, time.Now()
		}
		f.handled[sig]++ // as when not quiet: a test that delivers the signal after
		f.mu.Unlock()
	}
}

// exit makes pid a zombie and raises SIGCHLD, unless SIGCHLD is muted.
func (f *fakeOS) exit(pid int, ws unix.WaitStatus) {
	f.mu.Lock()
	if !f.alive[pid] {
		f.mu.Unlock()
		return
	}
	delete(f.alive, pid)
	f.pending = append(f.pending, reaper.Exit{Pid: pid, Status: ws})
	f.record(fmt.Sprintf("exit %s %d", f.names[pid], reaper.Code(ws)))
	muted := f.muted || f.lateNotice
	f.mu.Unlock()
	if muted {
		return
	}
	select {
	case f.chld <- unix.SIGCHLD:
	default:
	}
}

func (f *fakeOS) drain(fn func(reaper.Exit)) (bool, error) {
	f.mu.Lock()
	f.drains++
	exits := f.pending
	f.pending = nil
	left := len(f.alive) > 0
	f.mu.Unlock()
	for _, e := range exits {
		fn(e)
	}
	return left, nil
}

// log returns the events so far, one per line, "TIME what".
func (f *fakeOS) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.events {
		out = append(out, fmt.Sprintf("%v %s", e.at, e.what))
	}
	return out
}

// loop is one Supervisor running under fake time.
type loop struct {
	t    *testing.T
	f    *fakeOS
	sigs chan os.Signal
	code chan int
}

func startLoop(t *testing.T, toml string, main []string, scripts map[string]script) *loop {
	t.Helper()
	return startLoopLog(t, zerolog.New(zerolog.NewTestWriter(t)), toml, main, scripts)
}

// startLoopLog is startLoop with tend's log going to log.
func startLoopLog(t *testing.T, log zerolog.Logger, toml string, main []string, scripts map[string]script) *loop {
	t.Helper()
	return startLoopOpts(t, Options{Log: log}, toml, main, scripts)
}

// startLoopOpts is startLoop with o's options (its Config, Main and
// Grace are the test's).
func startLoopOpts(t *testing.T, o Options, toml string, main []string, scripts map[string]script) *loop {
	t.Helper()
	cfg, err := config.Parse("t.toml", []byte(toml), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeOS(scripts)
	l := &loop{t: t, f: f, sigs: make(chan os.Signal, 8), code: make(chan int, 1)}
	o.Config, o.Main, o.Grace = cfg, main, time.Second
	s := New(o, signals.Subscription{Child: f.chld, Other: l.sigs})
	s.os, s.init, s.rand = f.ops(), false, func() float64 { return 0 }
	s.reapGap = testReapGap // 0: exact instants; TestReapCoalesces covers the gap
	go func() { l.code <- s.Run() }()
	return l
}

// stop sends SIGTERM to tend and returns its exit code.
func (l *loop) stop() int {
	l.sigs <- unix.SIGTERM
	return <-l.code
}

// want checks that the events, in order, include these (each "TIME what").
func (l *loop) want(lines ...string) {
	l.t.Helper()
	got := l.f.log()
	i := 0
	for _, g := range got {
		if i < len(lines) && g == lines[i] {
			i++
		}
	}
	if i < len(lines) {
		l.t.Errorf("missing %q in the events:\n%s", lines[i], strings.Join(got, "\n"))
	}
}

func (l *loop) count(what string) int {
	n := 0
	for _, g := range l.f.log() {
		if strings.HasSuffix(g, " "+what) {
			n++
		}
	}
	return n
}

// testReapGap is the reapGap loops under test get.
var testReapGap time.Duration

const noSocket = "[tend]\nsocket = \"\"\n"

// TestBackoffThenFatal: a program that fails at once is retried after
// 100, 200, 400 ms (initial*factor^(n-1)), capped at max, and goes FATAL
// after 1+startretries starts, never to be tried again.
func TestBackoffThenFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 1
startretries = 4
backoff = { initial = "100ms", max = "300ms", factor = 2.0 }
`, nil, map[string]script{"p": {runFor: 0, code: 1}})
		time.Sleep(time.Hour)
		l.want("0s spawn p", "0s exit p 1",
			"100ms spawn p", "100ms exit p 1",
			"300ms spawn p", "300ms exit p 1",
			"600ms spawn p", "600ms exit p 1",
			"900ms spawn p") // capped at max: 300ms
		if n := l.count("spawn p"); n != 5 {
			t.Errorf("%d starts, want 1+startretries = 5", n)
		}
		if code := l.stop(); code != 0 {
			t.Errorf("exit code %d", code)
		}
	})
}

// TestStartsecs: a run shorter than startsecs is a failed start (BACKOFF,
// counted); a run of startsecs resets the count, and a later crash
// restarts at once.
func TestStartsecs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 1
startretries = 1
backoff = { initial = "1s", max = "1s", factor = 1.0 }
`, nil, map[string]script{"p": {runFor: 1500 * time.Millisecond, code: 2, onTerm: 0}})
		time.Sleep(10 * time.Second)
		// Every run lasts 1.5 s > startsecs: each crash restarts at once,
		// and with startretries=1 it never goes FATAL.
		l.want("0s spawn p", "1.5s exit p 2", "1.5s spawn p", "3s exit p 2", "3s spawn p")
		if code := l.stop(); code != 0 {
			t.Errorf("exit code %d", code)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 1
startretries = 1
backoff = { initial = "1s", max = "1s", factor = 1.0 }
`, nil, map[string]script{"p": {runFor: 999 * time.Millisecond, code: 0}})
		time.Sleep(10 * time.Second)
		// 999 ms < startsecs: failed start even with exit code 0; one
		// retry after 1 s, then FATAL.
		l.want("0s spawn p", "999ms exit p 0", "1.999s spawn p", "2.998s exit p 0")
		if n := l.count("spawn p"); n != 2 {
			t.Errorf("%d starts, want 2", n)
		}
		l.stop()
	})
}

// TestAutorestart: always / on-failure with exitcodes / never.
func TestAutorestart(t *testing.T) {
	cases := []struct {
		policy, codes string
		code          int
		restarts      bool
	}{
		{"always", "[0]", 0, true},
		{"on-failure", "[0, 3]", 3, false},
		{"on-failure", "[0, 3]", 4, true},
		{"never", "[0]", 1, false},
	}
	for _, c := range cases {
		synctest.Test(t, func(t *testing.T) {
			l := startLoop(t, noSocket+fmt.Sprintf(`
[programs.p]
command = ["p"]
startsecs = 0
autorestart = %q
exitcodes = %s
`, c.policy, c.codes), nil, map[string]script{"p": {runFor: time.Second, code: c.code}})
			time.Sleep(1500 * time.Millisecond)
			if got := l.count("spawn p") > 1; got != c.restarts {
				t.Errorf("autorestart=%s exitcodes=%s exit %d: restarted %v, want %v\n%s",
					c.policy, c.codes, c.code, got, c.restarts, strings.Join(l.f.log(), "\n"))
			}
			l.stop()
		})
	}
}

// TestDependencyOrder: c before b before a on start (each waits for its
// dependency's startsecs), a before b before c on stop; d, which nothing
// depends on and which depends on nothing, stops with the first.
func TestDependencyOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.a]
command = ["a"]
depends_on = ["b"]
[programs.b]
command = ["b"]
depends_on = { c = "running" }
[programs.c]
command = ["c"]
[programs.d]
command = ["d"]
`, nil, map[string]script{"a": forever, "b": forever, "c": {runFor: -1, onTerm: 100 * time.Millisecond}, "d": forever})
		time.Sleep(5 * time.Second)
		l.want("0s spawn c", "1s spawn b", "2s spawn a")
		l.want("0s spawn d")
		if code := l.stop(); code != 0 {
			t.Errorf("exit code %d", code)
		}
		l.want("5s kill a TERM", "5s exit a 143", "5s kill b TERM", "5s exit b 143", "5s kill c TERM", "5.1s exit c 143")
		l.want("5s kill d TERM")
	})
}

// TestStopwaitsecsThenKill: a program that ignores its stop signal gets
// SIGKILL after stopwaitsecs, and tend exits 1.
func TestStopwaitsecsThenKill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
stopwaitsecs = 2
`, nil, map[string]script{"p": {runFor: -1, onTerm: -1}})
		time.Sleep(3 * time.Second)
		if code := l.stop(); code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		l.want("3s kill p TERM", "5s kill p KILL", "5s exit p 137")
	})
}

// TestFreezeDoesNotCount: the container is frozen for 5 s while a
// program stops. On thaw it still has its stopwaitsecs, measured in its
// own running time: it exits by itself and is not SIGKILLed.
func TestFreezeDoesNotCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
stopwaitsecs = 2
`, nil, map[string]script{"p": {runFor: -1, onTerm: 1500 * time.Millisecond}})
		time.Sleep(time.Second)
		l.sigs <- unix.SIGTERM
		time.Sleep(100 * time.Millisecond)
		l.f.freeze(5 * time.Second)
		if code := <-l.code; code != 0 {
			t.Errorf("exit code %d, want 0: the freeze counted against stopwaitsecs\n%s", code, strings.Join(l.f.log(), "\n"))
		}
		if n := l.count("kill p KILL"); n != 0 {
			t.Errorf("SIGKILLed after a freeze")
		}
	})
	// A start that lasts less than startsecs of its own time is a failed
	// start, however long the container was frozen in the middle.
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
startsecs = 2
startretries = 0
autorestart = "always"
`, nil, map[string]script{"p": {runFor: time.Second, code: 0}})
		time.Sleep(500 * time.Millisecond)
		l.f.freeze(10 * time.Second)
		time.Sleep(time.Hour)
		if n := l.count("spawn p"); n != 1 {
			t.Errorf("%d starts, want 1 then FATAL: a 1 s run across a freeze counted as RUNNING\n%s", n, strings.Join(l.f.log(), "\n"))
		}
		l.stop()
	})
}

// TestShutdownTimeout bounds the whole shutdown, whatever stopwaitsecs.
func TestShutdownTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, `[tend]
socket = ""
shutdown_timeout = "1s"
[programs.p]
command = ["p"]
stopwaitsecs = 60
`, nil, map[string]script{"p": {runFor: -1, onTerm: -1}})
		time.Sleep(2 * time.Second)
		if code := l.stop(); code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		l.want("2s kill p TERM", "3s kill p KILL", "3s exit p 137")
		if l.f.alive[101] {
			t.Errorf("tend exited before reaping the program it killed")
		}
	})
}

// TestOneshotGates: a dependent waits for a oneshot to complete; when
// the oneshot fails, the dependent never starts.
func TestOneshotGates(t *testing.T) {
	const toml = noSocket + `
[programs.migrate]
type = "oneshot"
command = ["migrate"]
[programs.app]
command = ["app"]
depends_on = ["migrate"]
`
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, toml, nil, map[string]script{"migrate": {runFor: 2 * time.Second}, "app": forever})
		time.Sleep(5 * time.Second)
		l.want("0s spawn migrate", "2s exit migrate 0", "2s spawn app")
		l.stop()
	})
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, toml, nil, map[string]script{"migrate": {runFor: time.Second, code: 1}, "app": forever})
		time.Sleep(5 * time.Second)
		if n := l.count("spawn app"); n != 0 {
			t.Errorf("app started %d times after migrate failed", n)
		}
		l.stop()
	})
}

// TestOneshotRetriesEnd: a oneshot with on-failure is retried
// startretries times and then FAILED (its count does not reset just
// because a start with startsecs 0 makes it RUNNING at once).
func TestOneshotRetriesEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.o]
type = "oneshot"
command = ["o"]
autorestart = "on-failure"
startretries = 2
backoff = { initial = "1s", max = "1s", factor = 1.0 }
`, nil, map[string]script{"o": {runFor: 100 * time.Millisecond, code: 1}})
		time.Sleep(time.Hour)
		if n := l.count("spawn o"); n != 3 {
			t.Errorf("%d starts, want 1+startretries = 3\n%s", n, strings.Join(l.f.log(), "\n"))
		}
		l.stop()
	})
}

// TestCriticalFatal: a critical program that goes FATAL stops every
// program and tend exits with its code.
func TestCriticalFatal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.db]
command = ["db"]
critical = true
startretries = 0
[programs.web]
command = ["web"]
`, nil, map[string]script{"db": {runFor: 0, code: 3}, "web": forever})
		if code := <-l.code; code != 3 {
			t.Errorf("exit code %d, want 3", code)
		}
		l.want("0s spawn db", "0s exit db 3", "0s kill web TERM")
	})
}

// TestMainWithSidecars: the main program starts after its sidecars are
// up, stops first, and its exit code is tend's.
func TestMainWithSidecars(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.side]
command = ["side"]
startsecs = 2
`, []string{"main"}, map[string]script{"side": forever, "main": {runFor: 3 * time.Second, code: 7}})
		if code := <-l.code; code != 7 {
			t.Errorf("exit code %d, want 7", code)
		}
		l.want("0s spawn side", "2s spawn main", "5s exit main 7", "5s kill side TERM", "5s exit side 143")
	})
}

// TestSpawnFailureIsFailedStart: a command that cannot run backs off and
// goes FATAL like one that exits at once.
func TestSpawnFailureIsFailedStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["missing"]
startretries = 1
critical = true
`, nil, map[string]script{})
		if code := <-l.code; code != 127 {
			t.Errorf("exit code %d, want 127 (not found)", code)
		}
		if len(l.f.log()) != 0 {
			t.Errorf("events %q", l.f.log())
		}
	})
}

// TestPolicyTables: the pure rules of policy.go.
func TestPolicyTables(t *testing.T) {
	b := config.Backoff{Initial: time.Second, Max: 10 * time.Second, Factor: 3}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 3 * time.Second, 3: 9 * time.Second, 4: 10 * time.Second, 40: 10 * time.Second} {
		if got := backoffDelay(b, n, 0); got != want {
			t.Errorf("backoffDelay(n=%d) = %v, want %v", n, got, want)
		}
	}
	if got := backoffDelay(b, 1, 1); got != 1100*time.Millisecond {
		t.Errorf("jitter +1: %v, want 1.1s", got)
	}
	if got := backoffDelay(b, 1, -5); got != 900*time.Millisecond {
		t.Errorf("jitter clamped at -1: %v, want 900ms", got)
	}

	long := &config.Program{Type: config.Longrun, Autorestart: config.RestartOnFailure, ExitCodes: []int{0, 2}, StartSecs: time.Second, StartRetries: 2}
	one := &config.Program{Type: config.Oneshot, Autorestart: config.RestartNever, ExitCodes: []int{0}, StartRetries: 2}
	oneRetry := &config.Program{Type: config.Oneshot, Autorestart: config.RestartOnFailure, ExitCodes: []int{0}, StartRetries: 2}
	cases := []struct {
		p    *config.Program
		st   State
		e    exitInfo
		want outcome
	}{
		// Still STARTING when the exit was reaped: the deadline had not
		// acted, so the run was not confirmed, however long it reads.
		{long, Starting, exitInfo{code: 0}, failedStart},
		{long, Running, exitInfo{code: 2}, exited},
		{long, Running, exitInfo{code: 1}, restart},
		{long, Running, exitInfo{code: 128 + 15, signaled: true}, restart},
		{long, Stopping, exitInfo{code: 1}, stopped},
		{one, Running, exitInfo{code: 0}, completed},
		{one, Running, exitInfo{code: 1}, failed},
		{oneRetry, Running, exitInfo{code: 1}, failedStart},
	}
	for i, c := range cases {
		if got := classify(c.p, c.st, c.e); got != c.want {
			t.Errorf("case %d: classify = %v, want %v", i, got, c.want)
		}
	}
	for n, want := range map[int]State{1: Backoff, 2: Backoff, 3: Fatal} {
		if got := afterFailedStart(long, n); got != want {
			t.Errorf("afterFailedStart(longrun, %d) = %v, want %v", n, got, want)
		}
	}
	if got := afterFailedStart(oneRetry, 3); got != Failed {
		t.Errorf("afterFailedStart(oneshot, 3) = %v, want FAILED", got)
	}

	dep := func(cond config.Condition) config.Dep { return config.Dep{Name: "x", Condition: cond} }
	deps := []struct {
		d       config.Dep
		typ     config.Type
		st      State
		healthy bool
		stuck   bool
		want    depCheck
	}{
		{dep(config.CondDefault), config.Longrun, Running, true, false, depMet},
		{dep(config.CondDefault), config.Longrun, Starting, false, false, depPending},
		{dep(config.CondDefault), config.Oneshot, Running, true, false, depPending},
		{dep(config.CondDefault), config.Oneshot, Completed, false, false, depMet},
		{dep(config.CondDefault), config.Oneshot, Failed, false, false, depDead},
		{dep(config.CondHealthy), config.Longrun, Running, true, false, depMet},
		{dep(config.CondHealthy), config.Longrun, Running, false, false, depPending},
		{dep(config.CondRunning), config.Longrun, Running, false, false, depMet},
		{dep(config.CondRunning), config.Longrun, Fatal, true, false, depDead},
		{dep(config.CondRunning), config.Longrun, Backoff, true, false, depPending},
		{dep(config.CondRunning), config.Longrun, Stopped, true, true, depDead},
		{dep(config.CondRunning), config.Longrun, Stopped, true, false, depPending},
		{dep(config.CondRunning), config.Oneshot, Completed, true, false, depMet},
		{dep(config.CondCompleted), config.Oneshot, Running, true, false, depPending},
	}
	for i, c := range deps {
		if got := checkDep(c.d, depView{typ: c.typ, state: c.st, healthy: c.healthy, ready: c.st == Running, stuck: c.stuck}); got != c.want {
			t.Errorf("dep case %d: checkDep = %v, want %v", i, got, c.want)
		}
	}
}

// TestLoopSurvivesPanic: a bug that panics in one step is logged, and the
// loop goes on serving (PID 1 must not die of it).
func TestLoopSurvivesPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
`, nil, map[string]script{"p": forever})
		time.Sleep(time.Second)
		l.f.mu.Lock()
		l.f.scripts["p"] = script{runFor: -1, onTerm: 0}
		l.f.mu.Unlock()
		l.sigs <- panicSignal // onSignal panics on it (see below)
		time.Sleep(time.Second)
		if code := l.stop(); code != 0 {
			t.Errorf("exit code %d after a recovered panic", code)
		}
		l.want("2s kill p TERM")
	})
}

// panicSignal is an os.Signal that is not a syscall.Signal: the loop's
// type assertion on it panics, a stand-in for any bug in a step.
var panicSignal os.Signal = notASignal{}

type notASignal struct{}

func (notASignal) String() string { return "not a signal" }
func (notASignal) Signal()        {}

// TestReapCoalesces: during a storm of exits tend reaps at most once per
// reaper.Coalesce, and reaps everything by the end of the gap: 50 programs
// dying together cost a reap or two, not fifty, and all restart within
// 1 ms (at once when the first reap already finds them all).
func TestReapCoalesces(t *testing.T) {
	testReapGap = reaper.Coalesce
	defer func() { testReapGap = 0 }()
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.p]
command = ["p"]
instances = 50
startsecs = 0
autorestart = "always"
`, nil, map[string]script{"p": {runFor: time.Second, code: 1}})
		time.Sleep(1500 * time.Millisecond)
		l.f.mu.Lock()
		drains := l.f.drains
		l.f.mu.Unlock()
		// A reap drains once more after unmuting SIGCHLD, and a storm
		// ends with a reap that finds nothing: at most three reaps.
		if drains > 6 {
			t.Errorf("%d drains for 50 exits at one instant, want at most 6", drains)
		}
		l.f.mu.Lock()
		muted := l.f.muted
		l.f.mu.Unlock()
		if muted {
			t.Error("SIGCHLD still muted after the storm")
		}
		if n := l.count("spawn p"); n != 100 {
			t.Errorf("%d starts, want 100: every exit reaped and restarted", n)
		}
		for _, e := range l.f.log() { // each exit reaped by the end of the gap
			if strings.HasSuffix(e, " spawn p") && e != "0s spawn p" && e != "1s spawn p" && e != "1.001s spawn p" {
				t.Errorf("a restart at %q: later than one reaper.Coalesce after the exits", e)
			}
		}
		l.stop()
	})
}

// programsPQ is a config of two programs p and q, up at once, p never
// restarted and q as qRestart says.
func programsPQ(qRestart string) string {
	return noSocket + `
[programs.p]
command = ["p"]
startsecs = 0
autorestart = "never"

[programs.q]
command = ["q"]
startsecs = 0
autorestart = "` + qRestart + `"
`
}

// TestExitWhileUnmuting: a program that exits after a reap's last wait4
// but before SIGCHLD has its handler back raises no signal; the drain
// after the unmute must still collect it, or it would never be restarted.
func TestExitWhileUnmuting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, programsPQ("always"), nil, map[string]script{"p": {runFor: 100 * time.Millisecond}, "q": {runFor: -1, onTerm: 0}})
		var once sync.Once
		l.f.mu.Lock()
		l.f.onUnmute = func() {
			once.Do(func() {
				l.f.mu.Lock()
				var q int
				for pid, name := range l.f.names {
					if name == "q" && l.f.alive[pid] {
						q = pid
					}
				}
				l.f.mu.Unlock()
				l.f.exit(q, unix.WaitStatus(3<<8))
			})
		}
		l.f.mu.Unlock()
		time.Sleep(time.Second)
		synctest.Wait()
		l.want("100ms exit p 0", "100ms exit q 3", "100ms spawn q")
		l.stop()
	})
}

// TestForwardedByHandler: the loop points the forwarding handler at the
// main program's group while it runs, and at nothing once tend shuts
// down; a signal the handler sent is not sent again, one it did not send
// the loop forwards itself.
func TestForwardedByHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket, []string{"m"}, map[string]script{"m": {runFor: -1, onTerm: 0}})
		synctest.Wait()
		l.f.mu.Lock()
		target, name := l.f.forwarding, l.f.names[-l.f.forwarding]
		l.f.mu.Unlock()
		if target >= 0 || name != "m" {
			t.Fatalf("forwarding to %d (%q), want the main program's group", target, name)
		}
		l.f.handlerSends(unix.SIGUSR1)
		l.sigs <- unix.SIGUSR1
		l.sigs <- unix.SIGUSR2 // came before the handler had a target
		synctest.Wait()
		if n := l.count("kill m USR1"); n != 1 {
			t.Errorf("USR1 sent %d times, want once (by the handler)", n)
		}
		if n := l.count("kill m USR2"); n != 1 {
			t.Errorf("USR2 sent %d times, want once (by the loop)", n)
		}
		l.stop()
		l.f.mu.Lock()
		defer l.f.mu.Unlock()
		if l.f.forwarding != 0 {
			t.Errorf("still forwarding to %d after the main program exited", l.f.forwarding)
		}
	})
}

// TestForwardQuietly: the loop has the handler forward quietly unless
// Options.LogForwarded asks for a line per signal it sent; the log
// level has no say in it.
func TestForwardQuietly(t *testing.T) {
	for _, c := range []struct {
		level        zerolog.Level
		logForwarded bool
		quiet        bool
	}{
		{zerolog.TraceLevel, false, true}, {zerolog.DebugLevel, false, true}, {zerolog.InfoLevel, false, true},
		{zerolog.DebugLevel, true, false}, {zerolog.WarnLevel, true, false},
	} {
		synctest.Test(t, func(t *testing.T) {
			log := zerolog.New(zerolog.NewTestWriter(t)).Level(c.level)
			l := startLoopOpts(t, Options{Log: log, LogForwarded: c.logForwarded}, noSocket, []string{"m"}, map[string]script{"m": {runFor: -1, onTerm: 0}})
			synctest.Wait()
			l.f.mu.Lock()
			quiet := l.f.quiet[unix.SIGUSR1]
			l.f.mu.Unlock()
			if quiet != c.quiet {
				t.Errorf("log at %s, LogForwarded %v: forwarding quietly %v, want %v", c.level, c.logForwarded, quiet, c.quiet)
			}
			l.stop()
		})
	}
}

// TestMainCannotStart: a main program that cannot be spawned ends tend
// with 127, and its state change goes through changed() like every
// other: one line in the log, one event.
func TestMainCannotStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log lockedBuffer
		l := startLoopLog(t, zerolog.New(&log), noSocket, []string{"missing"}, map[string]script{})
		if code := <-l.code; code != 127 {
			t.Errorf("exit code %d, want 127 (not found)", code)
		}
		if out := log.String(); !strings.Contains(out, `"program":"main","state":"EXITED","from":"STOPPED","exit_code":127`) {
			t.Errorf("no state change of main to EXITED in the log:\n%s", out)
		}
	})
}

// TestExitBeforeStartsecsTimer: an exit already waiting to be reaped when
// the startsecs deadline fires is a failed start, never a promotion to
// RUNNING: the timer drains exits before it acts. Here the SIGCHLD notice
// never comes, as under a loop stalled for seconds, so only that drain
// can see the exit.
func TestExitBeforeStartsecsTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log lockedBuffer
		l := startLoopLog(t, zerolog.New(&log), noSocket+`
[programs.p]
command = ["p"]
startsecs = 0.2
startretries = 1
backoff = { initial = "1s", max = "1s", factor = 1.0 }
`, nil, map[string]script{"p": {runFor: 100 * time.Millisecond, code: 1}})
		l.f.mu.Lock()
		l.f.lateNotice = true
		l.f.mu.Unlock()
		time.Sleep(3 * time.Second)
		// The timer finds each exit at the startsecs deadline (200 ms
		// after the spawn): a failed start, BACKOFF for 1 s.
		l.want("0s spawn p", "100ms exit p 1", "1.2s spawn p", "1.3s exit p 1")
		if n := l.count("spawn p"); n != 2 {
			t.Errorf("%d starts, want 2 (a failed start, one retry, then FATAL)", n)
		}
		l.stop()
		if out := log.String(); strings.Contains(out, `"state":"RUNNING"`) || !strings.Contains(out, `"state":"FATAL"`) {
			t.Errorf("p promoted to RUNNING, or never FATAL:\n%s", out)
		}
	})
}

// TestInvalidReloadLogsOneLine: a reload of a file with several errors
// is one line of tend's log, every error in it: in the console format a
// message of many lines leaves all but the first without a time or a
// level.
func TestInvalidReloadLogsOneLine(t *testing.T) {
	t.Chdir(t.TempDir()) // the loop's config file is t.toml, here
	synctest.Test(t, func(t *testing.T) {
		var log lockedBuffer
		l := startLoopLog(t, zerolog.New(zerolog.ConsoleWriter{Out: &log, NoColor: true}), noSocket+`
[programs.p]
command = ["p"]
`, nil, map[string]script{"p": forever})
		if err := os.WriteFile("t.toml", []byte("[programs.p]\ncommand = [\"p\"]\nbogus = 1\nstartsecs = \"soon\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		l.sigs <- unix.SIGHUP
		time.Sleep(time.Second)
		l.stop()
		out := log.String()
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		reloads := 0
		for _, line := range lines {
			// No timestamp here, so every line opens "<nil> LVL ".
			if !consoleLine.MatchString(line) {
				t.Errorf("a log line without a level: %q", line)
			}
			if strings.Contains(line, "reload: invalid config") {
				reloads++
				for _, want := range []string{"t.toml:3: programs.p.bogus", "t.toml:4: programs.p.startsecs"} {
					if !strings.Contains(line, want) {
						t.Errorf("the reload's log line lacks %q: %q", want, line)
					}
				}
			}
		}
		if reloads != 1 {
			t.Errorf("%d log lines of the invalid reload, want 1:\n%s", reloads, out)
		}
	})
}

var consoleLine = regexp.MustCompile(`^<nil> (TRC|DBG|INF|WRN|ERR) `)

// lockedBuffer is a log sink the loop and the test may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestLateHandlerMute: a SIGCHLD handler that mutes SIGCHLD just after
// the loop unmuted it leaves SIGCHLD muted; its notice must bring the
// loop back to unmute it, or every later exit would go unseen.
func TestLateHandlerMute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, programsPQ("never"), nil, map[string]script{"p": {runFor: 100 * time.Millisecond}, "q": {runFor: 200 * time.Millisecond}})
		var once sync.Once
		l.f.mu.Lock()
		l.f.afterUnmute = func() { once.Do(l.f.lateHandler) }
		l.f.mu.Unlock()
		time.Sleep(time.Second)
		synctest.Wait()
		if n := l.count("exit q 0"); n != 1 {
			t.Fatalf("q exited %d times", n)
		}
		l.f.mu.Lock()
		muted, pending := l.f.muted, len(l.f.pending)
		l.f.mu.Unlock()
		if muted || pending != 0 {
			t.Errorf("at 1s: SIGCHLD muted %v, %d exits not reaped", muted, pending)
		}
		l.stop()
	})
}

// TestReloadBringsBackRemoved: a program a reload removed, brought back
// by the next reload before it is down, is not forgotten once down: it
// starts again, as in the file.
func TestReloadBringsBackRemoved(t *testing.T) {
	t.Chdir(t.TempDir()) // the loop's config file is t.toml, here
	const file = "[programs.p]\ncommand = [\"p\"]\nstartsecs = 0\n\n[programs.q]\ncommand = [\"q\"]\nstartsecs = 0\n"
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+file, nil, map[string]script{"p": {runFor: -1, onTerm: 0}, "q": {runFor: -1, onTerm: time.Second}})
		time.Sleep(time.Second)
		write := func(body string) {
			if err := os.WriteFile("t.toml", []byte(noSocket+body), 0o644); err != nil {
				t.Fatal(err)
			}
			l.sigs <- unix.SIGHUP
			synctest.Wait()
		}
		write("[programs.p]\ncommand = [\"p\"]\nstartsecs = 0\n") // q removed: TERM, down after 1 s
		time.Sleep(500 * time.Millisecond)
		write(file) // q back before it is down
		time.Sleep(2 * time.Second)
		l.want("0s spawn q", "1s kill q TERM", "2s exit q 143", "2s spawn q")
		l.stop()
	})
}

// TestSchedule: a scheduled oneshot runs at each of its times, not at
// tend's start; a run still going at the next time is not doubled;
// ctl stop takes it off its timetable and ctl start puts it back.
func TestSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startLoop(t, noSocket+`
[programs.job]
command = ["job"]
type = "oneshot"
every = "10s"
`, nil, map[string]script{"job": {runFor: 3 * time.Second}})
		time.Sleep(35 * time.Second)
		l.want("10s spawn job", "13s exit job 0", "20s spawn job", "23s exit job 0", "30s spawn job")
		if n := l.count("spawn job"); n != 3 {
			t.Errorf("%d runs in 35s, want 3:\n%s", n, strings.Join(l.f.log(), "\n"))
		}
		l.stop()
	})
	synctest.Test(t, func(t *testing.T) {
		var log lockedBuffer
		l := startLoopLog(t, zerolog.New(&log), noSocket+`
[programs.job]
command = ["job"]
type = "oneshot"
every = "10s"
`, nil, map[string]script{"job": {runFor: 15 * time.Second}})
		time.Sleep(45 * time.Second)
		// Due at 10, 20, 30, 40: the run from 10 to 25 is still going
		// at 20, so 20 is skipped; 30 runs (to 45); 40 is skipped.
		l.want("10s spawn job", "25s exit job 0", "30s spawn job")
		if n := l.count("spawn job"); n != 2 {
			t.Errorf("%d runs, want 2 (no doubling):\n%s", n, strings.Join(l.f.log(), "\n"))
		}
		if got := strings.Count(log.String(), "scheduled run skipped"); got != 2 {
			t.Errorf("%d skipped runs logged, want 2", got)
		}
		l.stop()
	})
	// A cron line, on the wall clock (synctest's starts at midnight);
	// ctl stop takes the job off its timetable, ctl start runs it now
	// and puts it back.
	synctest.Test(t, func(t *testing.T) {
		reqs := make(chan api.Request)
		ask := func(verb api.Verb) {
			r := api.Request{Verb: verb, Names: []string{"job"}, Reply: make(chan api.Reply, 1)}
			reqs <- r
			if rep := <-r.Reply; rep.Err != "" {
				t.Errorf("%s: %s", verb, rep.Err)
			}
		}
		o := Options{Log: zerolog.New(zerolog.NewTestWriter(t)), Requests: reqs}
		l := startLoopOpts(t, o, noSocket+`
[programs.job]
command = ["job"]
type = "oneshot"
schedule = "* * * * *"
`, nil, map[string]script{"job": {runFor: time.Second}})
		time.Sleep(150 * time.Second)
		st := api.Request{Verb: api.VerbStatus, Names: []string{"job"}, Reply: make(chan api.Reply, 1)}
		reqs <- st
		if r := <-st.Reply; len(r.Programs) != 1 || !r.Programs[0].NextRun.Equal(time.Date(2000, 1, 1, 0, 3, 0, 0, time.UTC)) {
			t.Errorf("status at 2m30s: %+v, want next_run 00:03:00", r.Programs)
		}
		ask(api.VerbStop)
		time.Sleep(100 * time.Second)
		ask(api.VerbStart)
		time.Sleep(60 * time.Second)
		l.want("1m0s spawn job", "2m0s spawn job", "4m10s spawn job", "5m0s spawn job")
		if n := l.count("spawn job"); n != 4 {
			t.Errorf("%d runs, want 4:\n%s", n, strings.Join(l.f.log(), "\n"))
		}
		l.stop()
	})
}
