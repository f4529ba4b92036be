package supervisor

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tend/api"
	"tend/reaper"
	"tend/signals"
)

// Init mode's --drain and --rewrite, and the one-TERM rule of the
// leftover sweep, under fake time.

// sweeps records the loop's calls to the leftover sweep.
type sweeps struct {
	mu    sync.Mutex
	calls []string // "TIME SIG skip=N"
	skip  reaper.Skip
	// answer is what a TERM sweep reports.
	answer reaper.Swept
}

// wantSkip checks that the TERM sweep was told to pass over the main
// program's group alone (pid 101), as it stood at tick.
func (w *sweeps) wantSkip(t *testing.T, tick uint64) {
	t.Helper()
	w.mu.Lock()
	skip := w.skip
	w.mu.Unlock()
	if len(skip) != 1 || skip[101] != tick {
		t.Errorf("skip %v, want the main program's group 101 at tick %d", skip, tick)
	}
}

func (w *sweeps) fake(t0 time.Time) func(bool, syscall.Signal, reaper.Skip) (reaper.Swept, error) {
	return func(_ bool, sig syscall.Signal, skip reaper.Skip) (reaper.Swept, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.calls = append(w.calls, fmt.Sprintf("%v %s skip=%d", time.Since(t0), signals.Name(sig), len(skip)))
		if sig == unix.SIGTERM {
			w.skip = maps(skip)
			return w.answer, nil
		}
		return reaper.Swept{}, nil
	}
}

func maps(m reaper.Skip) reaper.Skip {
	out := reaper.Skip{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (w *sweeps) log() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.calls)
}

// initLoop runs init mode (no config) with main as the one child.
type initLoop struct {
	*loop
	sweeps   *sweeps
	handlerS chan []syscall.Signal // what the loop has the handler forward, once installed
}

func startInit(t *testing.T, o Options, main script, answer reaper.Swept) *initLoop {
	t.Helper()
	f := newFakeOS(map[string]script{"m": main})
	f.alive[999], f.names[999] = true, "w" // a leftover the sweep finds
	f.ticks = 4242
	l := &loop{t: t, f: f, sigs: make(chan os.Signal, 8), code: make(chan int, 1)}
	o.Main, o.Log = []string{"m"}, zerolog.New(zerolog.NewTestWriter(t))
	if o.Grace == 0 {
		o.Grace = time.Second
	}
	s := New(o, signals.Subscription{Child: f.chld, Other: l.sigs})
	il := &initLoop{loop: l, sweeps: &sweeps{answer: answer}, handlerS: make(chan []syscall.Signal, 1)}
	ops := f.ops()
	ops.leftovers = il.sweeps.fake(f.t0)
	var installed []syscall.Signal
	install := ops.installForwarder
	ops.installForwarder = func(sigs []syscall.Signal, quiet bool) ([]syscall.Signal, error) {
		installed = append(installed, sigs...) // the loop's own goroutine
		return install(sigs, quiet)
	}
	ops.forwardTo = func(target int) {
		if installed != nil {
			il.handlerS <- installed // after the last call: the loop's first sync
			installed = nil
		}
		f.ops().forwardTo(target)
	}
	s.os, s.init, s.rand = ops, true, func() float64 { return 0 }
	s.reapGap = testReapGap
	go func() { l.code <- s.Run() }()
	return il
}

// TestDrainHoldsStop: with --drain, the first TERM reaches the main
// program only once the drain is over; a second TERM during the drain
// is forwarded at once; INT is held like TERM; other signals are not.
func TestDrainHoldsStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := startInit(t, Options{Drain: 2 * time.Second}, forever, reaper.Swept{})
		synctest.Wait()
		l.sigs <- unix.SIGUSR1
		l.sigs <- unix.SIGTERM
		time.Sleep(1999 * time.Millisecond)
		if n := l.count("kill m TERM"); n != 0 {
			t.Errorf("TERM forwarded %d times during the drain", n)
		}
		if code := <-l.code; code != 128+int(unix.SIGTERM) {
			t.Errorf("exit code %d", code)
		}
		l.want("0s kill m USR1", "2s kill m TERM", "2s exit m 143")
	})
	synctest.Test(t, func(t *testing.T) {
		l := startInit(t, Options{Drain: 2 * time.Second}, forever, reaper.Swept{})
		synctest.Wait()
		l.sigs <- unix.SIGINT
		time.Sleep(500 * time.Millisecond)
		l.sigs <- unix.SIGTERM
		<-l.code
		l.want("500ms kill m TERM", "500ms exit m 143")
		if n := l.count("kill m INT"); n != 0 {
			t.Errorf("the held INT was forwarded after the second signal cut the drain")
		}
	})
}

// TestRewrite: --rewrite sends the main program TO for FROM, by the
// loop (the handler is not given FROM), in init mode and as the main
// program's stop signal in supervisor mode.
func TestRewrite(t *testing.T) {
	rw := map[syscall.Signal]syscall.Signal{unix.SIGTERM: unix.SIGQUIT, unix.SIGUSR1: unix.SIGUSR2}
	synctest.Test(t, func(t *testing.T) {
		l := startInit(t, Options{Rewrite: rw}, forever, reaper.Swept{})
		sigs := <-l.handlerS
		for _, s := range []syscall.Signal{unix.SIGTERM, unix.SIGUSR1} {
			if slices.Contains(sigs, s) {
				t.Errorf("the handler forwards %s itself; the loop must", signals.Name(s))
			}
		}
		for _, s := range []syscall.Signal{unix.SIGHUP, unix.SIGINT} {
			if !slices.Contains(sigs, s) {
				t.Errorf("the handler does not forward %s, which is not rewritten", signals.Name(s))
			}
		}
		synctest.Wait()
		l.sigs <- unix.SIGUSR1
		l.sigs <- unix.SIGTERM
		<-l.code
		l.want("0s kill m USR2", "0s kill m QUIT", "0s exit m 131")
		if n := l.count("kill m TERM") + l.count("kill m USR1"); n != 0 {
			t.Errorf("the rewritten signals reached the program %d times", n)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		o := Options{Rewrite: rw, Log: zerolog.New(zerolog.NewTestWriter(t))}
		l := startLoopOpts(t, o, noSocket, []string{"m"}, map[string]script{"m": forever})
		synctest.Wait()
		l.sigs <- unix.SIGTERM // supervisor mode: shut down
		<-l.code
		l.want("0s kill m QUIT")
	})
}

// TestHandlerForwardsStop: in init mode the signal handler forwards
// TERM, INT and QUIT itself, quietly, as any other signal; the loop
// takes the handler's note of the TERM when it next wakes (here for the
// main program's exit): the sweep passes over the group that had it,
// and the SIGKILL comes at --grace from the TERM. With --drain the loop
// keeps them.
func TestHandlerForwardsStop(t *testing.T) {
	stops := []syscall.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGQUIT}
	synctest.Test(t, func(t *testing.T) {
		main := script{runFor: -1, onTerm: 300 * time.Millisecond}
		l := startInit(t, Options{Grace: time.Second}, main, reaper.Swept{Skipped: 1})
		sigs := <-l.handlerS
		for _, s := range stops {
			if !slices.Contains(sigs, s) {
				t.Errorf("the handler does not forward %s", signals.Name(s))
			}
		}
		l.f.mu.Lock()
		quietTerm := l.f.quiet[unix.SIGTERM]
		l.f.mu.Unlock()
		if !quietTerm {
			t.Errorf("the handler wakes the loop for TERM")
		}
		synctest.Wait()
		l.f.handlerSends(unix.SIGTERM) // quiet: the loop is not told
		<-l.code
		if n := l.count("kill m TERM"); n != 1 {
			t.Errorf("the main program had %d TERMs, want the handler's one", n)
		}
		got := l.sweeps.log()
		want := []string{"300ms TERM skip=1", "300ms CONT skip=0", "1s KILL skip=0"}
		if !slices.Equal(got[:min(len(got), 3)], want) {
			t.Errorf("sweeps %q, want %q", got, want)
		}
		l.sweeps.wantSkip(t, 4242)
	})
	// The main program's exit reached the loop while the handler had the
	// TERM in flight (sent, its time not yet noted): noted as sent now.
	synctest.Test(t, func(t *testing.T) {
		l := startInit(t, Options{Grace: time.Second}, forever, reaper.Swept{Skipped: 1})
		<-l.handlerS
		synctest.Wait()
		l.f.mu.Lock()
		l.f.stampInFlight = true
		l.f.mu.Unlock()
		l.f.handlerSends(unix.SIGTERM)
		<-l.code
		l.sweeps.wantSkip(t, 4243)
	})
	synctest.Test(t, func(t *testing.T) {
		l := startInit(t, Options{Drain: time.Second}, forever, reaper.Swept{})
		sigs := <-l.handlerS
		for _, s := range stops {
			if slices.Contains(sigs, s) {
				t.Errorf("with --drain the handler forwards %s itself; the loop must hold it", signals.Name(s))
			}
		}
		synctest.Wait()
		l.sigs <- unix.SIGTERM
		<-l.code
	})
}

// TestOneTermPerProcess: the leftover sweep is told which groups had
// their stop signal (the forwarded TERM), and when every leftover was
// passed over, the SIGKILL comes at --grace from that TERM, not from
// the sweep.
func TestOneTermPerProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		main := script{runFor: -1, onTerm: 300 * time.Millisecond}
		l := startInit(t, Options{Grace: time.Second}, main, reaper.Swept{Skipped: 2})
		synctest.Wait()
		l.sigs <- unix.SIGTERM
		time.Sleep(2 * time.Second)
		got := l.sweeps.log()
		want := []string{"300ms TERM skip=1", "300ms CONT skip=0", "1s KILL skip=0"}
		if !slices.Equal(got[:min(len(got), 3)], want) {
			t.Errorf("sweeps %q, want %q", got, want)
		}
		l.sweeps.wantSkip(t, 4242)
		<-l.code
	})
	// Some leftover had no stop signal yet: it gets TERM and the whole
	// grace from now.
	synctest.Test(t, func(t *testing.T) {
		main := script{runFor: -1, onTerm: 300 * time.Millisecond}
		l := startInit(t, Options{Grace: time.Second}, main, reaper.Swept{Signalled: 1, Skipped: 2})
		synctest.Wait()
		l.sigs <- unix.SIGTERM
		time.Sleep(2 * time.Second)
		got := l.sweeps.log()
		if len(got) < 3 || got[2] != "1.3s KILL skip=0" {
			t.Errorf("sweeps %q, want the KILL at 1.3s", got)
		}
		<-l.code
	})
	// --no-group: the TERM reached the main program alone; nothing to skip.
	synctest.Test(t, func(t *testing.T) {
		main := script{runFor: -1, onTerm: 0}
		l := startInit(t, Options{NoGroup: true}, main, reaper.Swept{Signalled: 1})
		synctest.Wait()
		l.sigs <- unix.SIGTERM
		time.Sleep(2 * time.Second)
		if got := l.sweeps.log(); len(got) == 0 || got[0] != "0s TERM skip=0" {
			t.Errorf("sweeps %q, want a TERM sweep with nothing to skip", got)
		}
		<-l.code
	})
}

// TestDrainSupervisor: [tend] drain keeps every program running, with
// health "draining", for the drain after a TERM, then stops them; a
// second TERM cuts it short; the drain counts inside shutdown_timeout.
func TestDrainSupervisor(t *testing.T) {
	const cfg = noSocket + `drain = "2s"
shutdown_timeout = "3s"
[programs.p]
command = ["p"]
startsecs = 0
stopwaitsecs = 10
`
	health := func(reqs chan api.Request) api.Reply {
		r := api.Request{Verb: api.VerbHealth, Reply: make(chan api.Reply, 1)}
		reqs <- r
		return <-r.Reply
	}
	synctest.Test(t, func(t *testing.T) {
		reqs := make(chan api.Request)
		o := Options{Log: zerolog.New(zerolog.NewTestWriter(t)), Requests: reqs}
		l := startLoopOpts(t, o, cfg, nil, map[string]script{"p": {runFor: -1, onTerm: -1}})
		time.Sleep(time.Second)
		if r := health(reqs); !r.Healthy {
			t.Errorf("health before the drain: %+v", r)
		}
		l.sigs <- unix.SIGTERM
		time.Sleep(time.Second)
		if r := health(reqs); r.Healthy || r.Reason != "draining" {
			t.Errorf("health during the drain: %+v, want draining", r)
		}
		if code := <-l.code; code != 1 {
			t.Errorf("exit code %d, want 1 (p needed SIGKILL)", code)
		}
		// p ignores TERM: shutdown_timeout (3s from the first TERM at
		// 1s) kills it, stopwaitsecs (10s) notwithstanding.
		l.want("3s kill p TERM", "4s kill p KILL")
	})
	synctest.Test(t, func(t *testing.T) {
		l := startLoopOpts(t, Options{Log: zerolog.New(zerolog.NewTestWriter(t))}, cfg, nil, map[string]script{"p": forever})
		synctest.Wait()
		l.sigs <- unix.SIGTERM
		time.Sleep(500 * time.Millisecond)
		l.sigs <- unix.SIGINT
		<-l.code
		l.want("500ms kill p TERM", "500ms exit p 143")
	})
}

// notes is a fake service manager of tend's own.
type notes struct {
	mu  sync.Mutex
	got []string
}

func (n *notes) Send(s string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, s)
	return nil
}

func (n *notes) list() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.got)
}

// TestTellManager: tend says READY=1 once what /readyz watches is
// ready (here: p after startsecs), a STATUS= line when it changes, and
// STOPPING=1 as the drain begins, once.
func TestTellManager(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := &notes{}
		o := Options{Log: zerolog.New(zerolog.NewTestWriter(t)), Notify: n}
		l := startLoopOpts(t, o, noSocket+`drain = "1s"
[programs.p]
command = ["p"]
startsecs = 2
`, nil, map[string]script{"p": forever})
		time.Sleep(time.Second)
		if got := n.list(); slices.Contains(got, "READY=1") {
			t.Errorf("READY=1 before p is RUNNING: %q", got)
		}
		time.Sleep(2 * time.Second)
		l.sigs <- unix.SIGTERM
		synctest.Wait()
		l.sigs <- unix.SIGTERM
		<-l.code
		want := []string{
			"STATUS=not ready: p is STARTING; 0 of 1 programs running",
			"READY=1",
			"STATUS=ready: 1 of 1 programs running",
			"STOPPING=1",
			"STATUS=not ready: draining; 1 of 1 programs running",
			"STATUS=stopping: 0 of 1 programs running",
		}
		if got := n.list(); !slices.Equal(got, want) {
			t.Errorf("told the manager\n%q\nwant\n%q", got, want)
		}
	})
}
