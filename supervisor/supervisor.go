// Package supervisor owns every process tend starts, and the one loop
// (Supervisor.Run) that decides what happens to them.
//
// Everything that touches process state happens on that loop's goroutine:
// spawning, the pid→program table, program states, deadlines, signal
// forwarding. There are no mutexes here. Other goroutines (the signals'
// delivery, the output copiers) talk to the loop over channels.
//
// Init mode (tend -- CMD) is the same loop with one program, the main
// program, and no config.
package supervisor

import (
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tend/config"
	"tend/control"
	"tend/internal/safe"
	"tend/logs"
	"tend/reaper"
	"tend/signals"
)

// Options configure a Supervisor.
type Options struct {
	// Config holds the supervised programs; nil in init mode.
	Config *config.Config
	// Main is the main program's argv; nil when there is none. Its exit
	// ends tend, with its exit code.
	Main []string
	// NoGroup sends forwarded signals to the main program alone rather
	// than to its process group.
	NoGroup bool
	// Grace is how long leftovers get between SIGTERM and SIGKILL once
	// the programs are down; also the main program's stop wait.
	Grace time.Duration
	// ExitZero lists main-program exit codes reported as 0 (tini's -e).
	ExitZero []int
	// Log receives one line per state change.
	Log zerolog.Logger
	// Requests brings `tend ctl` requests from the control server; nil
	// when there is no socket.
	Requests <-chan control.Request
	// Stdout and Stderr are tend's own, shared by the programs whose
	// output is `prefix` (and by tend's log, on Stderr).
	Stdout, Stderr *logs.Dest
	// LogForwarded logs each signal tend's handler forwards, at debug
	// level. It costs a wake-up of the loop per signal; without it the
	// handler forwards quietly, as tini does: one wake-up and one kill
	// (signals.InstallForwarder). main sets it with -v.
	LogForwarded bool
}

// killWait bounds how long tend waits for leftovers after SIGKILL. Only a
// process stuck in uninterruptible sleep outlives it; PID 1 exiting makes
// the kernel finish the job.
const killWait = time.Second

// flushWait bounds how long tend waits, once every process is gone, for
// the copiers of program output to reach EOF. Only a process tend could
// not kill can hold a pipe open that long.
const flushWait = time.Second

// phase is where the loop is in tend's life.
type phase int

const (
	running   phase = iota // programs run and are restarted
	stopping               // programs are being stopped in reverse dependency order
	leftovers              // programs are down; leftovers have had SIGTERM
	killing                // leftovers have had SIGKILL
	flushing               // nothing is left; output copiers are finishing
	done
)

// Supervisor runs programs to the end. Every field is owned by the
// goroutine in Run.
type Supervisor struct {
	opts Options
	sub  signals.Subscription
	log  zerolog.Logger
	os   osOps
	init bool // tend is PID 1 of its namespace

	programs []*program // sorted by name; the main program last
	byName   map[string]*program
	byPid    map[int]*program
	probes   map[int]*program // exec health probes in flight, or killed and not yet reaped
	main     *program

	phase        phase
	shutdownDue  time.Time // shutdown_timeout; zero when unbounded
	phaseDue     time.Time // grace, killWait, flushWait
	orphans      int       // reaped processes tend did not start
	killedAny    bool      // some program had to be SIGKILLed
	code         int
	codeSet      bool
	timer        *time.Timer
	timerDue     time.Time        // real time the armed timer is due; zero: none
	reaps        *reaper.Schedule // when to reap; made by Run
	reapGap      time.Duration    // reaper.Coalesce; 0 in the loop's exact-time tests
	frozen       time.Duration    // time tend was not running when its timer was due
	outputs      int              // output copiers still running
	outputDone   chan func()      // a copier reached EOF; run the func on the loop
	files        logs.Files       // log files open for programs
	devNull      *os.File         // stdin of every program but the main one
	subscribers  []subscriber     // events streams
	probeResults chan probeResult // answers of http and tcp probes
	env          []string         // tend's environment, read once
	rand         func() float64   // jitter source in [-1, 1]
}

// osOps are the loop's dealings with the kernel: real ones by default,
// fakes in the loop's tests.
type osOps struct {
	spawn     func(Command) (int, error)
	kill      func(pid int, sig syscall.Signal) error
	drain     func(func(reaper.Exit)) (bool, error)
	leftovers func(init bool, sig syscall.Signal) bool
	subreaper func() error
	now       func() time.Time
	// muteChild mutes SIGCHLD (true) or gives it back its handler.
	muteChild func(bool) error
	// installForwarder, forwardTo and forwarded are the signal handler
	// that forwards signals itself (signals.InstallForwarder).
	installForwarder func(sigs []syscall.Signal, quiet bool) ([]syscall.Signal, error)
	forwardTo        func(target int)
	forwarded        func(syscall.Signal) int
}

var realOS = osOps{
	spawn:     spawn,
	kill:      unix.Kill,
	drain:     reaper.Drain,
	leftovers: reaper.SignalLeftovers,
	subreaper: reaper.BecomeSubreaper,
	now:       time.Now,
	muteChild: func(on bool) error {
		if on {
			return signals.MuteChild()
		}
		return signals.UnmuteChild()
	},
	installForwarder: signals.InstallForwarder,
	forwardTo:        signals.ForwardTo,
	forwarded:        signals.Forwarded,
}

// New prepares a Supervisor; sub must have been taken before anything
// else in main, so that no signal sent early is lost.
func New(opts Options, sub signals.Subscription) *Supervisor {
	s := &Supervisor{
		opts:       opts,
		sub:        sub,
		log:        opts.Log,
		os:         realOS,
		init:       reaper.IsInit(),
		byName:     map[string]*program{},
		byPid:      map[int]*program{},
		probes:     map[int]*program{},
		outputDone: make(chan func(), 64),
		rand:       jitter,
		reapGap:    reaper.Coalesce,
	}
	if s.opts.Stdout == nil {
		s.opts.Stdout = logs.NewDest(os.Stdout)
	}
	if s.opts.Stderr == nil {
		s.opts.Stderr = logs.NewDest(os.Stderr)
	}
	s.env = os.Environ()
	if opts.Config != nil {
		for _, pc := range opts.Config.Programs {
			s.add(&program{cfg: pc, want: pc.Autostart})
		}
	}
	s.probeResults = make(chan probeResult, len(s.programs)+1)
	if opts.Main != nil {
		s.main = &program{cfg: mainConfig(opts.Main, opts.Grace), want: true, isMain: true}
		s.add(s.main)
	}
	return s
}

func (s *Supervisor) add(p *program) {
	p.state = Stopped
	s.programs = append(s.programs, p)
	s.byName[p.cfg.Name] = p
}

// mainConfig describes the main program as a program: started once,
// never restarted, stopped with TERM and --grace.
func mainConfig(argv []string, grace time.Duration) *config.Program {
	return &config.Program{
		Name: "main", Group: "main", Command: argv, Type: config.Longrun,
		Autostart: true, Autorestart: config.RestartNever, ExitCodes: []int{0},
		StopSignal: unix.SIGTERM, StopWaitSecs: grace,
		Stdout: config.Output{Mode: config.Inherit}, Stderr: config.Output{Mode: config.Inherit},
	}
}

// Run starts the programs, forwards and handles signals, reaps
// everything, and returns tend's exit code once every program and every
// leftover is gone.
func (s *Supervisor) Run() int {
	if !s.init {
		if err := s.os.subreaper(); err != nil {
			s.log.Warn().Err(err).Msg("cannot become a subreaper; orphans go to the host's init")
		} else {
			s.log.Debug().Msg("not PID 1: subreaper for every descendant")
		}
	}
	for _, sig := range s.sub.Ignored {
		s.log.Debug().Str("signal", signals.Name(sig)).Msg("started ignored: left ignored, not forwarded")
	}
	if f, err := os.Open(os.DevNull); err == nil {
		s.devNull = f
		defer f.Close()
	}
	s.reaps = reaper.NewSchedule(s.os.drain, s.os.muteChild, s.reapGap, s.os.now, s.sub.Child, s.log)
	s.installForwarder()
	s.advance()
	s.syncForwarder()
	for s.phase != done {
		s.armTimer()
		// While a reap is set for the end of the gap, a SIGCHLD has
		// nothing to add: leave it in its channel (one is enough) rather
		// than wake for it.
		child := s.sub.Child
		if !s.reaps.Due().IsZero() {
			child = nil
		}
		var handle func()
		select {
		case <-child:
			handle = s.onChild
		case sig := <-s.sub.Other:
			handle = func() { s.onSignal(sig.(syscall.Signal)) }
		case <-s.timerC():
			handle = s.onTimer
		case f := <-s.outputDone:
			handle = func() { s.outputs--; f() }
		case r := <-s.probeResults:
			handle = func() { s.onProbeResult(r) }
		case r := <-s.opts.Requests:
			handle = func() { s.onRequest(r) }
		}
		s.noteFreeze() // before anything reads the clock
		s.safely(handle)
		s.safely(s.advance)
		s.syncForwarder()
	}
	s.files.Close()
	return s.exitCode()
}

// safely runs one step of the loop. A panic is a bug, but tend is PID 1:
// dying would take every program down with it. The panic is logged with
// its stack and the loop goes on; what that one step had half done stays
// half done.
func (s *Supervisor) safely(step func()) {
	defer safe.Recover(s.log, "supervisor loop")
	step()
}

// advance moves every program and the phase as far as the current state
// allows. It runs after every event, and repeats while the phase moves:
// one step can lead to the next (a main program that cannot start ends
// the run at once).
func (s *Supervisor) advance() {
	for {
		ph := s.phase
		switch s.phase {
		case running:
			s.startReady()
		case stopping:
			s.stopReady()
			if !slices.ContainsFunc(s.programs, (*program).alive) {
				s.stopLeftovers()
			}
		case leftovers, killing:
			if !s.reaps.Left() {
				s.log.Debug().Int("orphans_reaped", s.orphans).Msg("nothing left")
				s.phase, s.phaseDue = flushing, s.now().Add(flushWait)
			}
		case flushing:
			if s.outputs == 0 {
				s.phase = done
			}
		}
		if s.phase == ph {
			return
		}
	}
}

// onChild reaps whatever has exited, now or, in a storm of exits, at
// the end of the gap (reaper.Schedule), and hands each exit to its
// owner.
func (s *Supervisor) onChild() {
	s.reaps.OnChild(s.onExit)
}

func (s *Supervisor) onExit(e reaper.Exit) {
	if p, ok := s.probes[e.Pid]; ok {
		delete(s.probes, e.Pid)
		s.onProbeExit(p, e.Pid, e.Code())
		return
	}
	p := s.byPid[e.Pid]
	if p == nil {
		s.orphans++
		s.log.Trace().Int("pid", e.Pid).Int("exit_code", e.Code()).Msg("reaped orphan")
		return
	}
	delete(s.byPid, e.Pid)
	s.exited(p, e)
}

// action is the mode's policy for sig.
func (s *Supervisor) action(sig syscall.Signal) signals.Action {
	if s.opts.Config != nil {
		return signals.InSupervisor(sig, s.main != nil)
	}
	return signals.InInit(sig)
}

// onSignal applies the mode's policy to a signal tend received.
func (s *Supervisor) onSignal(sig syscall.Signal) {
	action := s.action(sig)
	switch action {
	case signals.Shutdown:
		s.shutdown("signal " + signals.Name(sig))
		return
	case signals.Reload:
		s.reload("signal " + signals.Name(sig)) // an invalid file is logged, and changes nothing
		return
	case signals.Forward:
		if n := s.os.forwarded(sig); n > 0 {
			s.log.Debug().Str("signal", signals.Name(sig)).Int("count", n).Msg("forwarded by the signal handler")
			return
		}
		if target := s.forwardTarget(); target != 0 {
			err := s.os.kill(target, sig)
			s.log.Debug().Err(err).Str("signal", signals.Name(sig)).Int("target", target).Msg("forwarded")
			return
		}
	}
	s.log.Debug().Str("signal", signals.Name(sig)).Stringer("action", action).Msg("signal not forwarded")
}

// forwardTarget is where forwarded signals go now: the main program's
// process group (the main program alone with --no-group) while it runs
// and tend is not shutting down; 0 for nowhere.
func (s *Supervisor) forwardTarget() int {
	if s.main == nil || s.main.pid == 0 || s.phase != running {
		return 0
	}
	if s.opts.NoGroup {
		return s.main.pid
	}
	return -s.main.pid
}

// installForwarder has tend's signal handler send on every signal the
// mode forwards, before the loop hears of it (signals.InstallForwarder).
// A signal the handler sent reaches onSignal only to be logged at debug
// level, and only with Options.LogForwarded; without it the handler
// forwards quietly, and the loop is not woken for it at all.
func (s *Supervisor) installForwarder() {
	if s.main == nil {
		return
	}
	var sigs []syscall.Signal
	for _, sig := range signals.Catchable() {
		if s.action(sig) == signals.Forward && !signals.Synchronous(sig) && !slices.Contains(s.sub.Ignored, sig) {
			sigs = append(sigs, sig)
		}
	}
	got, err := s.os.installForwarder(sigs, !s.opts.LogForwarded)
	if err != nil {
		s.log.Warn().Err(err).Msg("signals are forwarded by the loop alone")
	}
	s.log.Debug().Int("signals", len(got)).Msg("the signal handler forwards these signals itself")
}

// syncForwarder points the forwarding handler at forwardTarget. It runs
// after every step of the loop: the handler may forward to a main program
// that has just been reaped until then, as a signal that came a moment
// sooner would have been.
func (s *Supervisor) syncForwarder() {
	s.os.forwardTo(s.forwardTarget())
}

// shutdown stops every program in reverse dependency order, then the
// leftovers, then exits. The first reason wins; later calls do nothing.
func (s *Supervisor) shutdown(reason string) {
	if s.phase != running {
		return
	}
	s.log.Info().Str("reason", reason).Msg("shutting down")
	s.phase = stopping
	if s.opts.Config != nil {
		s.shutdownDue = s.now().Add(s.opts.Config.Tend.ShutdownTimeout)
	}
	for _, p := range s.programs {
		p.want = false
		if !p.alive() && p.state == Backoff {
			s.changed(p, Change{State: Stopped, From: Backoff, Reason: "shutdown"})
		}
	}
}

// stopReady stops every live program that no live program depends on:
// the main program first, then the rest in reverse dependency order,
// independent ones in parallel.
func (s *Supervisor) stopReady() {
	for _, p := range s.programs {
		if p.alive() && p.state != Stopping && !s.hasLiveDependent(p) {
			s.stop(p, "shutdown")
		}
	}
}

func (s *Supervisor) hasLiveDependent(p *program) bool {
	if !p.isMain && s.main != nil && s.main.alive() {
		return true // the main program depends on every sidecar
	}
	for _, q := range s.programs {
		if q.alive() && slices.ContainsFunc(q.cfg.DependsOn, func(d config.Dep) bool { return d.Name == p.cfg.Name }) {
			return true
		}
	}
	return false
}

// stopLeftovers moves from stopping programs to stopping whatever else is
// left: every process in the namespace as PID 1, tend's descendants
// otherwise.
func (s *Supervisor) stopLeftovers() {
	s.reaps.Drain(s.onExit)
	s.phase = leftovers
	if s.reaps.Left() {
		s.signalLeftovers(unix.SIGTERM, s.opts.Grace)
	}
}

func (s *Supervisor) signalLeftovers(sig syscall.Signal, wait time.Duration) {
	if s.os.leftovers(s.init, sig) {
		s.os.leftovers(s.init, unix.SIGCONT) // a stopped leftover can act on it
	}
	s.log.Debug().Str("signal", signals.Name(sig)).Str("wait", wait.String()).Msg("stopping leftover processes")
	s.phaseDue = s.now().Add(wait)
}

// onTimer handles every deadline that has passed.
func (s *Supervisor) onTimer() {
	// Exits are drained before any deadline acts. An exit may be waiting
	// to be reaped while its SIGCHLD notice has not reached the loop yet
	// (a loop stalled for seconds under load, a reap put off to the end
	// of its gap, select picking the timer among ready channels): the
	// startsecs deadline must not promote to RUNNING a program that has
	// already exited, nor an exec probe that has answered time out.
	s.reaps.OnTimer(s.onExit)
	now := s.now()
	for _, p := range s.programs {
		if !p.due.IsZero() && !now.Before(p.due) {
			p.due = time.Time{}
			s.onDue(p)
		}
	}
	s.probeDeadlines(now)
	if !s.shutdownDue.IsZero() && !now.Before(s.shutdownDue) {
		s.shutdownDue = time.Time{}
		s.onShutdownTimeout()
	}
	if !s.phaseDue.IsZero() && !now.Before(s.phaseDue) {
		s.phaseDue = time.Time{}
		switch s.phase {
		case leftovers:
			s.log.Warn().Str("grace", s.opts.Grace.String()).Msg("leftover processes outlived the grace period: SIGKILL")
			s.phase = killing
			s.signalLeftovers(unix.SIGKILL, killWait)
		case killing:
			s.log.Warn().Msg("leftover processes outlived SIGKILL; exiting without them")
			s.phase, s.phaseDue = flushing, now.Add(flushWait)
		case flushing:
			s.log.Warn().Int("outputs", s.outputs).Msg("program output still open after every process ended; exiting")
			s.phase = done
		}
	}
}

// onShutdownTimeout: shutdown_timeout bounds the whole shutdown. What is
// still running gets SIGKILL, and so does every leftover.
func (s *Supervisor) onShutdownTimeout() {
	s.log.Warn().Str("shutdown_timeout", s.opts.Config.Tend.ShutdownTimeout.String()).Msg("shutdown took too long: SIGKILL to everything")
	for _, p := range s.programs {
		if p.alive() {
			s.killGroup(p)
		}
	}
	// The programs just killed are children until a reap says otherwise:
	// the last drain's answer is stale, and leaving now would skip their
	// exits (and, on a host, hand them to the host's init).
	s.reaps.Expect()
	s.phase = killing
	s.signalLeftovers(unix.SIGKILL, killWait)
}

// Freeze-proof time. `docker pause` (the cgroup freezer) stops tend and
// its programs together, but no clock stops: on thaw, a startsecs,
// stopwaitsecs or grace deadline would have passed with the program never
// having run, and tend would SIGKILL a program that got no time to stop,
// or count a too-short start as a long one.
//
// So deadlines and run lengths are measured in tend time: the monotonic
// clock less the time tend was not running when it should have been. A
// freeze shows as the loop's timer firing late; the lateness is added to
// frozen. Only lateness over freezeTolerance counts: on a busy machine the
// loop is often tens of milliseconds late while its programs run on, and
// reading that as a freeze would stretch startsecs (seen under -race on
// two cores). A docker pause lasts seconds. To bound what a freeze that begins between two wakeups can cost,
// the timer is capped at heartbeat while a time-sensitive deadline is
// pending (a program STARTING or STOPPING, the grace period, the
// shutdown). Idle, with every program RUNNING, tend still never wakes.
const (
	heartbeat       = 250 * time.Millisecond
	freezeTolerance = time.Second
)

// now is tend time: the monotonic clock less frozen time.
func (s *Supervisor) now() time.Time {
	return s.os.now().Add(-s.frozen)
}

// noteFreeze runs after every wakeup: a timer that fired (or would have)
// more than freezeTolerance late means tend was frozen for that long, and
// its programs with it.
func (s *Supervisor) noteFreeze() {
	if s.timerDue.IsZero() {
		return
	}
	if late := s.os.now().Sub(s.timerDue); late > freezeTolerance {
		s.frozen += late
		s.log.Info().Str("frozen", late.Round(time.Millisecond).String()).
			Msg("tend was not running (container frozen?): deadlines leave that time out")
	}
	s.timerDue = time.Time{}
}

// sensitive reports whether a deadline is pending whose meaning a freeze
// would change.
func (s *Supervisor) sensitive() bool {
	if !s.shutdownDue.IsZero() || !s.phaseDue.IsZero() {
		return true
	}
	return slices.ContainsFunc(s.programs, func(p *program) bool {
		return p.state == Starting || p.state == Stopping || !p.probe.end.IsZero()
	})
}

// armTimer sets the one timer to the nearest deadline, or to the next
// heartbeat while a sensitive deadline is pending.
func (s *Supervisor) armTimer() {
	var next time.Time
	earlier := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, p := range s.programs {
		earlier(p.due)
		earlier(p.probe.due)
		earlier(p.probe.end)
	}
	earlier(s.shutdownDue)
	earlier(s.phaseDue)
	if due := s.reaps.Due(); !due.IsZero() {
		earlier(due.Add(-s.frozen)) // the reaps' time is real, deadlines are in tend time
	}
	if next.IsZero() {
		if s.timer != nil {
			s.timer.Stop()
		}
		s.timerDue = time.Time{}
		return
	}
	d := max(next.Sub(s.now()), 0)
	if s.sensitive() {
		d = min(d, heartbeat)
	}
	s.timerDue = s.os.now().Add(d)
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
}

func (s *Supervisor) timerC() <-chan time.Time {
	if s.timer == nil {
		return nil
	}
	return s.timer.C
}

// setCode records tend's exit code; the first cause wins.
func (s *Supervisor) setCode(code int) {
	if !s.codeSet {
		s.code, s.codeSet = code, true
	}
}

// exitCode is the main program's code (0 for the -e codes), or a critical
// program's, or else 0 for a clean shutdown and 1 if anything had to be
// SIGKILLed.
func (s *Supervisor) exitCode() int {
	if s.codeSet {
		return s.code
	}
	if s.killedAny {
		return 1
	}
	return 0
}
