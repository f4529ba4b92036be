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

	"tend/api"
	"tend/cgroup"
	"tend/config"
	"tend/internal/safe"
	"tend/logs"
	"tend/notify"
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
	Requests <-chan api.Request
	// Stdout and Stderr are tend's own, shared by the programs whose
	// output is `prefix` (and by tend's log, on Stderr).
	Stdout, Stderr *logs.Dest
	// Drain (init mode, --drain) holds a TERM or INT for this long
	// before it is forwarded; a second one is forwarded at once.
	Drain time.Duration
	// Rewrite (--rewrite) maps a signal tend gets to the one the main
	// program gets, when forwarded and as its stop signal.
	Rewrite map[syscall.Signal]syscall.Signal
	// Notify is tend's own service manager (NOTIFY_SOCKET), in
	// supervisor mode; nil: none. Programs never get its socket.
	Notify Notifier
	// LogForwarded logs each signal tend's handler forwards, at debug
	// level. It costs a wake-up of the loop per signal; without it the
	// handler forwards quietly, as tini does: one wake-up and one kill
	// (signals.InstallForwarder). main sets it with -v.
	LogForwarded bool
}

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
	probes   map[int]*probe   // exec probes in flight, or killed and not yet reaped
	hookPids map[int]*program // lifecycle hooks in flight, or killed and not yet reaped
	main     *program

	phase        phase
	shutdownDue  time.Time // shutdown_timeout; zero when unbounded
	phaseDue     time.Time // grace, killWait, flushWait
	orphans      int       // reaped processes tend did not start
	drainDue     time.Time // --drain: when the held signal is forwarded; zero: none held
	drainSig     syscall.Signal
	draining     bool        // [tend] drain: not ready, stopping at drainEnd
	drainEnd     time.Time   // when the drain is over (tend time)
	drainWhy     string      // what asked for the shutdown the drain comes before
	stopSent     reaper.Skip // process groups that got a stop signal, for the leftover sweep
	stopAt       time.Time   // when the first of them got it (tend time)
	killedAny    bool        // some program had to be SIGKILLed
	code         int
	codeSet      bool
	timer        *time.Timer
	timerDue     time.Time        // real time the armed timer is due; zero: none
	reaps        *reaper.Schedule // when to reap; made by Run
	reapGap      time.Duration    // reaper.Coalesce; 0 in the loop's exact-time tests
	frozen       time.Duration    // time tend was not running when its timer was due
	freezes      int              // freezes of the container seen (not host stalls)
	frozenTotal  time.Duration    // how long they lasted
	thawed       bool             // a freeze was seen this turn: run every probe
	delayMark    time.Duration    // run delay of tend's threads before the loop last waited
	delayOK      bool             // delayMark was read
	delayAt      time.Time        // when (real time)
	turn         time.Time        // tend time at the start of this turn of the loop (now)
	turnReal     time.Time        // the real clock's reading that turn comes from
	outputs      int              // output copiers still running
	outputDone   chan func()      // a copier reached EOF; run the func on the loop
	files        logs.Files       // log files open for programs
	devNull      *os.File         // stdin of every program but the main one
	subscribers  []subscriber     // events streams
	probeResults chan probeResult // answers of http and tcp probes
	env          []string         // tend's environment, read once
	rand         func() float64   // jitter source in [-1, 1]
	mgr          manager          // what tend has told its own manager
	cgroups      cgroupTree       // a cgroup per program (cgroups.go); nil: none
	containerOOM oomCount         // the container's OOM kill count; nil: none
	freezing     []cgroupGroup    // cgroups the request being served froze, for its answer to wait on

	// Readiness (readiness.go).
	notifier  notifyServer        // the programs' notify sockets; nil until the first is opened
	bySock    map[string]*program // programs by their notify socket's path
	notes     []notifyNote        // onNotify's buffer
	readyMsgs chan readyMsg       // readiness fds and output lines that say a run is ready
	// The main program's wait for the sidecars (mainwait.go).
	startDue    time.Time // [tend] start_timeout; zero: not armed, or over
	startArmed  bool      // it was armed: it bounds the first wait alone
	startWaived bool      // it passed, and the main program starts all the same
}

// osOps are the loop's dealings with the kernel: real ones by default,
// fakes in the loop's tests.
type osOps struct {
	spawn     func(Command) (int, error)
	kill      func(pid int, sig syscall.Signal) error
	drain     func(func(reaper.Exit)) (bool, error)
	leftovers func(init bool, sig syscall.Signal, skip reaper.Skip) (reaper.Swept, error)
	// bootTicks is the clock /proc/PID/stat's start time is on.
	bootTicks func() uint64
	// groupSize counts the processes in a process group, zombies
	// included; 0 when it cannot tell.
	groupSize func(pgid int) int
	subreaper func() error
	now       func() time.Time
	// runDelay is how long tend's threads have waited for a CPU.
	runDelay func() (time.Duration, bool)
	// muteChild mutes SIGCHLD (true) or gives it back its handler.
	muteChild func(bool) error
	// installForwarder, forwardTo and forwarded are the signal handler
	// that forwards signals itself (signals.InstallForwarder).
	installForwarder func(sigs []syscall.Signal, quiet bool) ([]syscall.Signal, error)
	forwardTo        func(target int)
	forwarded        func(syscall.Signal) int
	// stopForwarded is the first stop signal the handler sent since
	// the last call (signals.StopForwarded): its target, when on the
	// clock of bootTicks, and how long ago.
	stopForwarded func() (target int, ticks uint64, ago time.Duration, ok bool)
	// cgroups finds tend's cgroups (realCgroups): the container's OOM
	// kill count (nil: none), and, with setup, the programs' cgroups or
	// why there are none. nil: no cgroups at all.
	cgroups func(setup, force, pid1 bool) (cgroupTree, oomCount, error)
	// groupUsage is the usage of process groups
	// (cgroup.ProcessGroupUsage); nil: not read.
	groupUsage func(pgids ...int) (map[int]cgroup.Usage, error)
	// waitFrozen waits until the groups are frozen (cgroup.WaitFrozen),
	// off the loop; nil: a pause answers at once.
	waitFrozen func(deadline time.Time, groups []cgroupGroup) error
	// notifyServer opens the notify directory; readyPipe makes a run's
	// readiness fd (readiness.go).
	notifyServer func(dir string, log zerolog.Logger) (notifyServer, error)
	readyPipe    func(fd int) (readyPipe, error)
}

var realOS = osOps{
	spawn:     spawn,
	kill:      unix.Kill,
	drain:     reaper.Drain,
	leftovers: reaper.SignalLeftovers,
	bootTicks: reaper.BootTicks,
	runDelay:  runDelay,
	groupSize: reaper.GroupSize,
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
	stopForwarded:    stopForwarded,
	cgroups:          realCgroups,
	groupUsage:       cgroup.ProcessGroupUsage,
	waitFrozen:       realWaitFrozen,
	notifyServer:     newNotifyServer,
	readyPipe:        newReadyPipe,
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
		probes:     map[int]*probe{},
		hookPids:   map[int]*program{},
		outputDone: make(chan func(), 64),
		bySock:     map[string]*program{},
		readyMsgs:  make(chan readyMsg, 16),
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
		// tend's own manager's variables are tend's: a program sending
		// READY=1 there would speak for all of tend. In init mode they
		// pass to the one child, which is the service (as tini does).
		s.env = notify.Strip(s.env)
	}
	if opts.Config != nil {
		for _, pc := range opts.Config.Programs {
			s.add(newProgram(pc))
		}
	}
	s.probeResults = make(chan probeResult, 2*len(s.programs)+1)
	if opts.Main != nil {
		s.main = &program{cfg: mainConfig(opts.Main, opts.Grace), intent: intentRun, isMain: true}
		s.main.cfg.StopSignal = s.rewritten(s.main.cfg.StopSignal)
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
	if !s.setupCgroups() {
		return exitCgroups
	}
	if f, err := os.Open(os.DevNull); err == nil {
		s.devNull = f
		defer f.Close()
	}
	s.reaps = reaper.NewSchedule(s.os.drain, s.os.muteChild, s.reapGap, s.os.now, s.sub.Child, s.log)
	s.installForwarder()
	s.noteFreeze() // the first turn's clock
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
		case <-s.notifyWake():
			handle = s.onNotify
		case m := <-s.readyMsgs:
			handle = func() { s.onReadyMsg(m) }
		case r := <-s.opts.Requests:
			handle = func() { s.onRequest(r) }
		}
		s.noteFreeze() // the turn's clock, before anything reads it
		s.safely(s.takeHandlerStop)
		s.safely(handle)
		s.safely(s.advance)
		s.syncForwarder()
		s.tellManager()
	}
	s.files.Close()
	s.removeCgroups()
	if s.notifier != nil {
		s.notifier.Close()
	}
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
		s.settleEnds()
		switch s.phase {
		case running:
			s.startReady()
			s.armSchedules()
		case stopping:
			s.stopReady()
			if !slices.ContainsFunc(s.programs, (*program).alive) && !s.hooksRunning() {
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
	if pr, ok := s.probes[e.Pid]; ok {
		delete(s.probes, e.Pid)
		s.onProbeExit(pr, e.Pid, e.Code())
		return
	}
	if p, ok := s.hookPids[e.Pid]; ok {
		delete(s.hookPids, e.Pid)
		s.onHookExit(p, e.Pid, e.Code())
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

// onTimer handles every deadline that has passed.
func (s *Supervisor) onTimer() {
	// Exits are drained before any deadline acts. An exit may be waiting
	// to be reaped while its SIGCHLD notice has not reached the loop yet
	// (a loop stalled for seconds under load, a reap put off to the end
	// of its gap, select picking the timer among ready channels): the
	// startsecs deadline must not promote to RUNNING a program that has
	// already exited, nor an exec probe that has answered time out. The
	// deadlines are read against the clock as it was read right after
	// noteFreeze, before the drain: a freeze that lands in between must
	// not pass for time the programs ran.
	now := s.now()
	s.reaps.OnTimer(s.onExit)
	for _, p := range s.programs {
		if !p.due.IsZero() && !now.Before(p.due) {
			p.due = time.Time{}
			s.onDue(p)
		}
	}
	s.probeDeadlines(now)
	s.watchdogDeadlines(now)
	s.hookDeadlines(now)
	if !s.shutdownDue.IsZero() && !now.Before(s.shutdownDue) {
		s.shutdownDue = time.Time{}
		s.onShutdownTimeout()
	}
	if !s.startDue.IsZero() && !now.Before(s.startDue) {
		s.onStartTimeout()
	}
	if !s.drainDue.IsZero() && !now.Before(s.drainDue) {
		s.onDrainDue()
	}
	s.schedulesDue(now)
	if s.draining && !now.Before(s.drainEnd) {
		s.log.Info().Msg("drain over")
		s.shutdown(s.drainWhy)
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
