package supervisor

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"tend/config"
	"tend/logs"
	"tend/reaper"
	"tend/signals"
)

// program is one supervised program (one instance), or the main program.
// Every field is owned by the loop.
type program struct {
	cfg    *config.Program
	isMain bool

	state    State
	pid      int             // the main process; 0 once it has exited
	started  time.Time       // when the current run began
	failures int             // failed starts in a row
	crashes  int             // unexpected exits in a row of runs shorter than backoff.reset
	recent   []time.Time     // automatic restarts still in restart_limit's window (tend time)
	end      *ending         // the run whose main process exited, while its group is not gone
	killed   bool            // this run's group has had SIGKILL
	due      time.Time       // the state's deadline (startsecs, backoff, stopwaitsecs); zero: none
	waitSaid bool            // "waiting for a dead dependency" was logged
	since    time.Time       // wall clock of the last state change
	reason   string          // the reason of the last state change, for status
	retryAt  time.Time       // wall clock of BACKOFF's next start, for status; zero: none
	probe    probe           // the health check
	rprobe   probe           // the readiness check
	intent   intent          // what tend means to do with it
	next     *config.Program // the config a reload gave it, taken once it is down
	starts   int             // processes started, for status
	restarts int             // starts after the first
	lastCode *int            // exit code of the last process
	sched    schedState      // a scheduled oneshot's timetable
	hook     *hook           // a lifecycle hook in flight; nil: none
	// preStopped: this run's pre_stop has run (at a drain's start, or
	// when its stop began).
	preStopped bool
	hookCode   int // exit code of the last hook (128+N if signal N killed it)

	// Readiness (readiness.go).
	run        uint64       // counts spawn attempts: tags a run's readiness reports
	said       bool         // this run said it is ready (ready other than "started") and has not taken it back
	confirmed  bool         // this run has lasted startsecs: its exit is no longer a failed start
	wasReady   bool         // readiness as last logged and published
	statusText string       // the run's last STATUS= (ready = "notify")
	wdDue      time.Time    // the watchdog's deadline; zero: none
	abort      abortKind    // tend stopped this run itself, and why
	abortWhy   string       // that, for the log and the exit's reason
	sock       notifySocket // ready = "notify": the program's socket, kept across runs; nil before its first start
	pipe       readyPipe    // ready = { fd = N }: this run's pipe; nil: none
	cg         progCgroup   // its cgroup, and its OOM kills (cgroups.go)
	ring       *logs.Ring   // its last lines, for ctl logs; nil until it has output to keep (ringOf)
}

// alive reports whether the program has processes: its main process,
// or what is left of its process group after the main process exited
// (group.go).
func (p *program) alive() bool { return p.pid != 0 || p.end != nil }

// pgid is the program's process group: its main process's pid, which
// stays the group's id after the main process is gone.
func (p *program) pgid() int {
	if p.end != nil {
		return p.end.pgid
	}
	return p.pid
}

// intent is what tend means to do with a program: whether startReady
// starts it, and what its process's exit leads to. It is set by the
// config (autostart), `tend ctl` (start, stop, restart), the health
// checks (restart when unhealthy), reloads (restart when changed, remove
// when gone) and the shutdown (stop); exited and onDue read it.
type intent int

const (
	// intentStop: down, and staying down (autostart = false, ctl stop,
	// the shutdown).
	intentStop intent = iota
	// intentRun: up; started once its dependencies allow, and restarted
	// as autorestart says.
	intentRun
	// intentRestart: going down to come up again once it is down (ctl
	// restart, unhealthy, a reload that changed it).
	intentRestart
	// intentRemove: going down for good: a reload removed it, and it is
	// forgotten once it is down.
	intentRemove
)

// runIf is intentRun when on, else intentStop.
func runIf(on bool) intent {
	if on {
		return intentRun
	}
	return intentStop
}

// wanted reports whether p is meant to be up.
func (p *program) wanted() bool { return p.intent == intentRun }

// restartOnceDown has p started again once it is down, unless a reload
// removed it.
func (p *program) restartOnceDown() {
	if p.intent != intentRemove {
		p.intent = intentRestart
	}
}

// startReady starts every wanted program whose dependencies are met, and
// the main program once every sidecar has settled.
func (s *Supervisor) startReady() {
	// Until nothing more starts: a program with startsecs = 0 is RUNNING
	// as it starts, which may meet the dependencies of one before it.
	for more := true; more; {
		more = false
		for _, p := range s.startOrder() {
			if p.isMain || !p.wanted() || p.state != Stopped {
				continue
			}
			switch check, dep := s.deps(p); check {
			case depMet:
				if s.start(p); p.state != Stopped {
					more = true
				}
			case depDead:
				if !p.waitSaid {
					p.waitSaid = true
					s.log.Warn().Str("program", p.cfg.Name).Str("state", string(p.state)).
						Str("reason", "dependency "+dep.cfg.Name+" is "+string(dep.state)).
						Msg("not starting while a dependency cannot be met")
				}
			}
		}
	}
	s.startMain()
}

// deps checks p's dependencies: met when all are, dead when one cannot
// be (and which one), pending otherwise.
func (s *Supervisor) deps(p *program) (depCheck, *program) {
	result := depMet
	for _, d := range p.cfg.DependsOn {
		q := s.byName[d.Name]
		if q == nil {
			continue // an instance ctl scale took away: nothing to wait for
		}
		switch checkDep(d, s.depView(q)) {
		case depDead:
			return depDead, q
		case depPending:
			result = depPending
		}
	}
	return result, nil
}

// depView is what a dependent sees of q.
func (s *Supervisor) depView(q *program) depView {
	return depView{typ: q.cfg.Type, state: q.state, healthy: q.healthy(), ready: q.isReady(),
		gated: q.cfg.Gated(), stuck: s.stuck(q)}
}

// stuck reports whether p will not start as things stand: it is STOPPED
// and either not wanted or waiting on a dependency that cannot be met.
// Config has no dependency cycles, so the recursion ends.
func (s *Supervisor) stuck(p *program) bool {
	if p.state != Stopped {
		return false
	}
	if !p.wanted() {
		return true
	}
	check, _ := s.deps(p)
	return check == depDead
}

// sidecarsSettled: the main program starts once every wanted sidecar is
// ready or has come to an end, as s6-overlay starts CMD after its
// services.
func (s *Supervisor) sidecarsSettled() bool {
	return len(s.unsettled()) == 0
}

// unsettled lists the wanted sidecars the main program still waits for.
func (s *Supervisor) unsettled() []*program {
	var out []*program
	for _, p := range s.programs {
		if p.isMain || !p.wanted() {
			continue
		}
		if p.isReady() || p.state.Final() || s.stuck(p) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// start starts a run of p: its pre_start hook first, if it has one
// (STARTING meanwhile; a hook that fails or times out is a failed
// start), then the program itself.
func (s *Supervisor) start(p *program) {
	if !s.slotFree(p) {
		s.waitSlot(p)
		return
	}
	if len(p.cfg.PreStart) == 0 || p.isMain {
		s.spawnRun(p, p.state)
		return
	}
	from := p.state
	s.changed(p, Change{State: Starting, From: from, Reason: "running pre_start"})
	began := s.now()
	s.runHook(p, hookPreStart, p.cfg.PreStart, func(ok bool) {
		switch {
		case !p.wanted() || s.phase != running:
			s.changed(p, Change{State: Stopped, From: p.state, Reason: "stopped during pre_start"})
			if p.intent == intentRemove {
				s.forget(p) // a reload removed it while its hook ran
			}
		case ok:
			if check, _ := s.deps(p); check != depMet {
				// A dependency went down while the hook ran: back to
				// waiting for it; startReady starts it again.
				s.changed(p, Change{State: Stopped, From: p.state, Reason: "a dependency went down during pre_start"})
				return
			}
			s.spawnRun(p, Starting)
		default:
			p.started = began
			code := p.hookCode
			s.failedStart(p, Change{From: Starting, ExitCode: &code, Reason: "pre_start failed"}, exitInfo{code: code})
		}
	})
}

// spawnRun spawns p, which was in state from. A spawn that fails counts
// as a failed start.
func (s *Supervisor) spawnRun(p *program, from State) {
	p.run++
	p.said, p.confirmed, p.statusText, p.abort, p.abortWhy = false, false, "", abortNone, ""
	cmd, err := s.command(p)
	var finish func(ok bool)
	var readied func(pid int)
	if err == nil && !p.isMain {
		readied, err = s.prepareReady(p, &cmd)
	}
	if err == nil {
		finish, err = s.openOutputs(p, &cmd)
		if err != nil && readied != nil {
			readied(0)
		}
	}
	pid := 0
	if err == nil {
		pid, err = s.spawn(p, cmd)
		finish(err == nil)
		if readied != nil {
			readied(pid)
		}
	}
	now := s.now()
	if err != nil {
		code := 126
		var ee *ExecError
		if errors.As(err, &ee) {
			code = ee.Code()
		}
		s.log.Error().Str("program", p.cfg.Name).Err(err).Msg("tend cannot start it")
		c := Change{From: from, ExitCode: &code, Reason: "spawn failed: " + err.Error()}
		if p.isMain {
			// The main program gets one try, as in init mode.
			s.setCode(code)
			c.State = Exited
			s.changed(p, c)
			s.shutdown("the main program could not start")
			return
		}
		p.started = now
		s.failedStart(p, c, exitInfo{code: code})
		return
	}
	p.pid, p.started, p.killed, p.preStopped = pid, now, false, false
	s.byPid[pid] = p
	s.oomBaseline(p)
	if p.starts++; p.starts > 1 {
		p.restarts++
	}
	if !p.isMain {
		s.resetHealth(p)
	}
	if p.gatedStart() {
		// STARTING until it says it is ready, for ready_timeout at most.
		p.due = now.Add(p.cfg.ReadyTimeout)
		s.changed(p, Change{State: Starting, From: from, Pid: pid, Reason: "started; waiting for it to be ready (" + readyHow(p.cfg.Ready) + ")"})
		return
	}
	if p.cfg.StartSecs > 0 {
		p.due = now.Add(p.cfg.StartSecs)
		s.changed(p, Change{State: Starting, From: from, Pid: pid, Reason: "started"})
		return
	}
	// A run of startsecs (here 0) resets the count; a oneshot's resets
	// on COMPLETED.
	s.confirm(p)
	s.changed(p, Change{State: Running, From: from, Pid: pid, Reason: "started"})
}

// readyHow says what a ready setting waits for.
func readyHow(r config.Ready) string {
	switch r.Kind {
	case config.ReadyNotify:
		return "READY=1 on NOTIFY_SOCKET"
	case config.ReadyFd:
		return fmt.Sprintf("a newline on fd %d", r.Fd)
	case config.ReadyLog:
		return fmt.Sprintf("a line matching %q", r.Log)
	case config.ReadyHealthy:
		return "a passing check"
	}
	return string(r.Kind)
}

// watchReset makes the moment p's run has lasted backoff.reset the
// deadline of RUNNING while the crash ladder is not clear: the loop
// then watches the clock as for startsecs, so a freeze does not pass
// for time the program was up.
func (s *Supervisor) watchReset(p *program) {
	if p.crashes > 0 {
		p.due = p.started.Add(p.cfg.Backoff.Reset)
	}
}

// command is what spawn runs for p.
func (s *Supervisor) command(p *program) (Command, error) {
	c := Command{Argv: p.cfg.Command, Dir: p.cfg.Directory, Umask: -1}
	if p.isMain {
		c.Foreground = ownsTerminal()
		if s.opts.Config != nil {
			c.Env = s.environ() // without tend's NOTIFY_SOCKET
		}
		return c, nil
	}
	c.Stdin = s.devNull
	base := s.environ()
	if p.cfg.ClearEnv {
		base = cleanEnv(base, p.cfg.User)
	}
	c.Env = mergeEnv(base, p.cfg.Env(), p.cfg)
	if p.cfg.Umask != nil {
		c.Umask = int(*p.cfg.Umask)
	}
	if p.cfg.User != nil {
		cred, err := credential(p.cfg.User)
		if err != nil {
			return c, err
		}
		c.Cred = cred
	}
	c.Privileges = Privileges{
		Rlimits:      p.cfg.Rlimits,
		NoNewPrivs:   p.cfg.NoNewPrivs,
		Capabilities: p.cfg.Capabilities,
		OOMScoreAdj:  p.cfg.OOMScoreAdj,
		Nice:         p.cfg.Nice,
	}
	g, err := s.cgroupOf(p)
	c.Cgroup = g
	return c, err
}

// sideCommand is the Command of a process that runs for p without being
// p: an exec health check, a hook. It runs as p does: p's user,
// directory, environment, umask, limits and privileges (a check that ran
// as root, or without no_new_privs, for a program that runs as nobody
// would be a way up), with argv, stdin /dev/null, and stdout and stderr
// as given (nil: tend's own).
func (s *Supervisor) sideCommand(p *program, argv []string, stdout, stderr *os.File) (Command, error) {
	c, err := s.command(p)
	if err != nil {
		return c, err
	}
	c.Argv, c.Stdin, c.Stdout, c.Stderr, c.Foreground = argv, s.devNull, stdout, stderr, false
	return c, nil
}

// mergeEnv is tend's environment with TEND_PROGRAM (and TEND_INSTANCE
// for a program with instances) and the program's own variables over it.
// A name is set once: with two entries, C programs read the first.
func mergeEnv(base []string, add map[string]string, pc *config.Program) []string {
	vars := map[string]string{"TEND_PROGRAM": pc.Name}
	if pc.Name != pc.Group {
		vars["TEND_INSTANCE"] = strconv.Itoa(pc.Instance)
	}
	for k, v := range add {
		vars[k] = v
	}
	out := make([]string, 0, len(base)+len(vars))
	for _, kv := range base {
		k, _, _ := cutEnv(kv)
		if _, ok := vars[k]; !ok {
			out = append(out, kv)
		}
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+vars[k])
	}
	return out
}

func cutEnv(kv string) (string, string, bool) {
	for i := 1; i < len(kv); i++ { // a name may start with '=' on no system tend runs on, but be safe
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

// exited handles the exit of p's main process. What it leads to waits
// until the rest of the program's process group is gone too (settle,
// group.go): the loop checks that after this turn's reaps.
func (s *Supervisor) exited(p *program, e reaper.Exit) {
	from := p.state
	p.pid = 0
	s.cancelProbe(p)
	s.endReady(p)
	info := exitInfo{code: e.Code(), signaled: e.Status.Signaled()}
	p.lastCode = &info.code
	c := Change{From: from, Pid: e.Pid, ExitCode: &info.code, Reason: "exited"}
	if info.signaled {
		c.Signal = signals.Name(e.Status.Signal())
		c.Reason = "killed by signal " + c.Signal
	}
	if s.cgroupExited(p, e.Status, from) {
		c.Reason = oomReason
	}
	if p.isMain {
		p.due = time.Time{}
		c.State = Exited
		s.changed(p, c)
		code := info.code
		if slices.Contains(s.opts.ExitZero, code) {
			code = 0
		}
		s.setCode(code)
		s.shutdown("the main program exited")
		return
	}
	if from != Stopping {
		// A stop's deadline stands: it bounds the rest of the group too.
		p.due = time.Time{}
	}
	if from == Running && !p.confirmed {
		// Ready, but not up for startsecs yet: a failed start, as an
		// exit in STARTING is.
		from = Starting
	}
	p.end = &ending{pgid: e.Pid, change: c, info: info, from: from, at: s.now()}
}

// settle applies the exit of p's last run, now that nothing of its
// process group is left: its post_stop hook first, if it has one, then
// restart, back off, or an end state.
func (s *Supervisor) settle(p *program) {
	e := p.end
	p.end, p.due, p.killed = nil, time.Time{}, false
	if len(p.cfg.PostStop) == 0 {
		s.applyExit(p, e)
		return
	}
	if p.state != Stopping {
		c := e.change
		c.State, c.From = Stopping, p.state
		c.Reason += "; running post_stop"
		s.changed(p, c)
	}
	s.runHook(p, hookPostStop, p.cfg.PostStop, func(bool) { s.applyExit(p, e) })
}

// applyExit applies e, the exit of p's last run: restart, back off, or
// an end state.
func (s *Supervisor) applyExit(p *program, e *ending) {
	c, info, from := e.change, e.info, e.from
	c.From = p.state // STOPPING if it waited for its group
	if p.abort != abortNone && s.phase == running && p.intent == intentRun {
		// tend stopped the run itself: not ready in time, or its
		// watchdog. It counts as the failure it was, not as a stop.
		c.Reason = p.abortWhy + "; " + c.Reason
		if p.abort == abortReadyTimeout || !p.confirmed {
			s.failedStart(p, c, info)
		} else {
			s.crashed(p, c, info, e.at.Sub(p.started))
		}
		s.afterExit(p)
		return
	}
	if (s.phase != running || p.intent != intentRun) && from != Stopping {
		// Shutting down, or stopped while its group drained (ctl stop,
		// restart, a reload): nothing is restarted on its own.
		from = Stopping
	}
	switch classify(p.cfg, from, info) {
	case stopped:
		c.State = Stopped
		s.changed(p, c)
		if p.intent == intentRestart && s.phase == running {
			p.intent = intentRun // startReady takes it from here
		}
	case failedStart:
		s.failedStart(p, c, info)
	case restart:
		s.crashed(p, c, info, e.at.Sub(p.started))
	case exited:
		c.State = Exited
		s.changed(p, c)
		s.finalState(p, info)
	case completed:
		p.failures = 0
		c.State = Completed
		s.changed(p, c)
	case failed:
		c.State = Failed
		s.changed(p, c)
		s.finalState(p, info)
	}
	s.afterExit(p)
}

// afterExit: once p is down, a reload's new config takes over, or a
// removed program goes.
func (s *Supervisor) afterExit(p *program) {
	if !p.alive() {
		s.adopt(p)
		if p.intent == intentRemove {
			s.forget(p)
		}
	}
}

// crashed restarts a run that was up (RUNNING, at least startsecs) and
// exited as autorestart restarts, after ran: at once the first time,
// then on the backoff ladder while each run is shorter than
// backoff.reset; FATAL only when restart_limit is set and passed.
func (s *Supervisor) crashed(p *program, c Change, info exitInfo, ran time.Duration) {
	p.crashes = crashes(p.cfg.Backoff, p.crashes, ran)
	c.Reason += "; autorestart=" + string(p.cfg.Autorestart)
	if s.overLimit(p, &c) {
		s.changed(p, c)
		s.finalState(p, info)
		return
	}
	if p.crashes == 1 {
		c.State = Exited
		s.changed(p, c)
		s.start(p)
		return
	}
	c.State = Backoff
	c.RetryIn = crashDelay(p.cfg.Backoff, p.crashes, s.rand())
	c.Reason += fmt.Sprintf("; exit %d in a row of a run shorter than backoff.reset (%s)", p.crashes, p.cfg.Backoff.Reset)
	p.due = s.now().Add(c.RetryIn)
	s.changed(p, c)
}

// overLimit records an automatic restart of p against restart_limit.
// Past the limit it makes c FATAL, with the reason, and reports true.
func (s *Supervisor) overLimit(p *program, c *Change) bool {
	var over bool
	p.recent, over = recordRestart(p.recent, s.now(), p.cfg.RestartLimit)
	if !over {
		return false
	}
	l := p.cfg.RestartLimit
	c.State, c.RetryIn = Fatal, 0
	c.Reason += fmt.Sprintf("; restart_limit: more than %d restarts in %s", l.Count, l.Window)
	return true
}

// failedStart counts a failed start and goes to BACKOFF, or to FATAL
// (FAILED for a oneshot) once retries are spent. c describes the exit.
func (s *Supervisor) failedStart(p *program, c Change, info exitInfo) {
	p.failures++
	c.State = afterFailedStart(p.cfg, p.failures)
	c.Failures = p.failures
	if p.gatedStart() && !p.said && p.abort == abortNone {
		c.Reason += " before it was ready"
	} else if p.abort == abortNone {
		c.Reason += " before startsecs"
	}
	if c.State == Backoff && !s.overLimit(p, &c) {
		c.RetryIn = backoffDelay(p.cfg.Backoff, p.failures, s.rand())
		p.due = s.now().Add(c.RetryIn)
	}
	s.changed(p, c)
	if c.State != Backoff {
		s.finalState(p, info)
	}
}

// finalState: a critical program that has failed for good stops tend,
// which exits with its code (at least 1).
func (s *Supervisor) finalState(p *program, info exitInfo) {
	if !p.cfg.Critical || s.phase != running {
		return
	}
	s.setCode(max(info.code, 1))
	s.drainThenShutdown("critical program " + p.cfg.Name + " is " + string(p.state))
}

// onDue handles the deadline of p's state.
func (s *Supervisor) onDue(p *program) {
	switch p.state {
	case Starting:
		if p.gatedStart() {
			s.abortRun(p, abortReadyTimeout, fmt.Sprintf("not ready within ready_timeout (%s)", p.cfg.ReadyTimeout))
			return
		}
		s.confirm(p)
		s.changed(p, Change{State: Running, From: Starting, Pid: p.pid, Reason: "up for startsecs"})
	case Running, Paused:
		if !p.confirmed {
			// Ready before startsecs, and now up for it too.
			s.confirm(p)
			return
		}
		if p.state == Paused {
			return
		}
		p.crashes = 0
		s.log.Debug().Str("program", p.cfg.Name).Int("pid", p.pid).Str("reset", p.cfg.Backoff.Reset.String()).
			Msg("up for backoff.reset: the next crash restarts at once")
	case Backoff:
		if p.wanted() && s.phase == running {
			s.start(p)
		}
	case Stopping:
		if p.end != nil && groupGone(s.os.kill(-p.end.pgid, 0)) && s.cgroupEmpty(p) {
			// Gone, and not reaped by tend (no subreaper): nothing to
			// kill, nothing to wait for.
			s.settle(p)
			return
		}
		if p.killed {
			// Only a process in uninterruptible sleep outlives SIGKILL
			// this long; the program's next run must not wait on it.
			s.log.Warn().Str("program", p.cfg.Name).Int("pgid", p.pgid()).Str("wait", killWait.String()).
				Msg("processes of its group outlived SIGKILL; going on without them")
			if p.end != nil {
				s.settle(p)
			}
			return
		}
		s.log.Warn().Str("program", p.cfg.Name).Int("pid", p.pid).Int("pgid", p.pgid()).Str("stopwaitsecs", p.cfg.StopWaitSecs.String()).
			Msg("did not stop in time: SIGKILL to its process group")
		s.killGroup(p)
		if p.end != nil {
			p.due = s.now().Add(killWait)
		}
	}
}

// stop sends p its stop signal, and SIGCONT so a stopped process can act
// on it, and gives it stopwaitsecs before SIGKILL. A program already
// stopping keeps its deadline and is not signalled again.
func (s *Supervisor) stop(p *program, reason string) {
	if p.intent == intentRun {
		p.intent = intentStop
	}
	s.halt(p, reason)
}

// halt is stop without a change of intent: what the exit leads to is
// up to the caller's intent (abortRun).
func (s *Supervisor) halt(p *program, reason string) {
	if !p.alive() {
		if p.state == Backoff {
			s.changed(p, Change{State: Stopped, From: Backoff, Reason: reason})
		}
		return
	}
	if p.state == Stopping {
		return
	}
	s.thawToStop(p)
	sig := p.cfg.StopSignal
	if len(p.cfg.PreStop) > 0 && !p.preStopped && p.pid != 0 {
		// pre_stop first: STOPPING while it runs, and the stop signal
		// and stopwaitsecs after it, whatever it did.
		p.preStopped = true
		s.changed(p, Change{State: Stopping, From: p.state, Pid: p.pid, Signal: signals.Name(sig), Reason: reason + "; running pre_stop"})
		s.runHook(p, hookPreStop, p.cfg.PreStop, func(bool) {
			if p.alive() {
				s.sendStop(p, sig)
			}
		})
		return
	}
	s.sendStop(p, sig)
	s.changed(p, Change{State: Stopping, From: p.state, Pid: p.pid, Signal: signals.Name(sig), Reason: reason})
}

// sendStop sends sig, then SIGCONT, to p's process group, and gives it
// stopwaitsecs.
func (s *Supervisor) sendStop(p *program, sig syscall.Signal) {
	s.os.kill(-p.pgid(), sig)
	s.os.kill(-p.pgid(), unix.SIGCONT)
	s.signalRest(p, p.pgid(), sig)
	if s.phase != running {
		s.noteStopSent(p.pgid()) // the sweep passes its group over
	}
	p.due = s.now().Add(p.cfg.StopWaitSecs)
}

// killSignal is SIGKILL, named for the places that stop what cannot be
// asked.
const killSignal = unix.SIGKILL

// killGroup sends SIGKILL to p's process group. It counts for tend's
// exit code (1: something had to be killed) when it ends a stop, not
// when it clears what a crashed run left behind.
func (s *Supervisor) killGroup(p *program) {
	s.os.kill(-p.pgid(), killSignal)
	s.killCgroup(p)
	p.killed = true
	if p.end == nil || p.end.from == Stopping || s.phase != running {
		s.killedAny = true
	}
}

// changed moves p to c.State, logs the change with the fixed keys, and
// publishes it. The main program's lines are debug level: in init mode
// tend is as quiet as tini.
func (s *Supervisor) changed(p *program, c Change) {
	c.Program, c.Time = p.cfg.Name, time.Now()
	p.state, p.since, p.reason, p.retryAt = c.State, c.Time, c.Reason, time.Time{}
	if c.State != Running {
		p.wdDue = time.Time{} // the watchdog is for a RUNNING program
	}
	c.Ready = p.isReady()
	p.wasReady = c.Ready
	if c.State == Backoff {
		p.retryAt = c.Time.Add(c.RetryIn)
	}
	ev := s.log.Info()
	if p.isMain {
		ev = s.log.Debug()
	}
	ev = ev.Str("program", c.Program).Str("state", string(c.State)).Str("from", string(c.From))
	if c.Pid != 0 {
		ev = ev.Int("pid", c.Pid)
	}
	if c.ExitCode != nil {
		ev = ev.Int("exit_code", *c.ExitCode)
	}
	if c.Signal != "" {
		ev = ev.Str("signal", c.Signal)
	}
	if c.Failures != 0 {
		ev = ev.Int("failures", c.Failures)
	}
	if c.RetryIn != 0 {
		ev = ev.Str("retry_in", c.RetryIn.Round(time.Millisecond).String())
	}
	if p.cfg.Gated() && !p.isMain {
		ev = ev.Bool("ready", c.Ready)
	}
	ev.Str("reason", c.Reason).Msg("state")
	s.publish(c)
	if s.phase == running && leftUp(c.From, c.State) {
		s.restartTied(p, c.State)
	}
}

// jitter is uniform in [-1, 1].
func jitter() float64 { return rand.Float64()*2 - 1 }
