package supervisor

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
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
	pid      int
	started  time.Time       // when the current run began
	failures int             // failed starts in a row
	due      time.Time       // the state's deadline (startsecs, backoff, stopwaitsecs); zero: none
	waitSaid bool            // "waiting for a dead dependency" was logged
	since    time.Time       // wall clock of the last state change
	probe    probe           // health checking
	intent   intent          // what tend means to do with it
	next     *config.Program // the config a reload gave it, taken once it is down
	starts   int             // processes started, for status
	restarts int             // starts after the first
	lastCode *int            // exit code of the last process
	sched    schedState      // a scheduled oneshot's timetable
	hook     *hook           // a lifecycle hook in flight; nil: none
	ring     *logs.Ring      // its last lines, for ctl logs; nil until it has output to keep (ringOf)
}

// alive reports whether the program has a process.
func (p *program) alive() bool { return p.pid != 0 }

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
	for _, p := range s.programs {
		if p.isMain || !p.wanted() || p.state != Stopped {
			continue
		}
		switch check, dep := s.deps(p); check {
		case depMet:
			s.start(p)
		case depDead:
			if !p.waitSaid {
				p.waitSaid = true
				s.log.Warn().Str("program", p.cfg.Name).Str("state", string(p.state)).
					Str("reason", "dependency "+dep.cfg.Name+" is "+string(dep.state)).
					Msg("not starting while a dependency cannot be met")
			}
		}
	}
	if m := s.main; m != nil && m.wanted() && m.state == Stopped && s.sidecarsSettled() {
		s.start(m)
	}
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
		switch checkDep(d, q.cfg.Type, q.state, q.healthy(), s.stuck(q)) {
		case depDead:
			return depDead, q
		case depPending:
			result = depPending
		}
	}
	return result, nil
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

// sidecarsSettled: the main program starts once every wanted sidecar has
// come up or come to an end, as s6-overlay starts CMD after its services.
func (s *Supervisor) sidecarsSettled() bool {
	for _, p := range s.programs {
		if p.isMain || !p.wanted() {
			continue
		}
		if p.state == Running || p.state.Final() || s.stuck(p) {
			continue
		}
		return false
	}
	return true
}

// start spawns p. A spawn that fails counts as a failed start.
func (s *Supervisor) start(p *program) {
	from := p.state
	cmd, err := s.command(p)
	var finish func(ok bool)
	if err == nil {
		finish, err = s.openOutputs(p, &cmd)
	}
	pid := 0
	if err == nil {
		pid, err = s.os.spawn(cmd)
		finish(err == nil)
	}
	now := s.now()
	if err != nil {
		code := 126
		var ee *ExecError
		if errors.As(err, &ee) {
			code = ee.Code()
		}
		s.log.Error().Str("program", p.cfg.Name).Err(err).Msg("cannot start")
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
	p.pid, p.started = pid, now
	s.byPid[pid] = p
	if p.starts++; p.starts > 1 {
		p.restarts++
	}
	if !p.isMain {
		s.resetHealth(p)
	}
	if p.cfg.StartSecs > 0 {
		p.due = now.Add(p.cfg.StartSecs)
		s.changed(p, Change{State: Starting, From: from, Pid: pid, Reason: "started"})
		return
	}
	if p.cfg.Type == config.Longrun {
		p.failures = 0 // a run of startsecs (here 0) resets the count; a oneshot's resets on COMPLETED
	}
	s.changed(p, Change{State: Running, From: from, Pid: pid, Reason: "started"})
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
	c.Env = mergeEnv(s.environ(), p.cfg.Environment, p.cfg)
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

// exited handles the exit of p's process.
func (s *Supervisor) exited(p *program, e reaper.Exit) {
	from := p.state
	p.pid, p.due = 0, time.Time{}
	s.cancelProbe(p)
	info := exitInfo{code: e.Code(), signaled: e.Status.Signaled()}
	p.lastCode = &info.code
	c := Change{From: from, Pid: e.Pid, ExitCode: &info.code, Reason: "exited"}
	if info.signaled {
		c.Signal = signals.Name(e.Status.Signal())
		c.Reason = "killed by signal " + c.Signal
	}
	if p.isMain {
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
	if s.phase != running && from != Stopping {
		from = Stopping // shutting down: nothing is restarted
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
		c.State, c.Reason = Exited, c.Reason+"; autorestart="+string(p.cfg.Autorestart)
		s.changed(p, c)
		s.start(p)
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
	if !p.alive() {
		s.adopt(p)
		if p.intent == intentRemove {
			s.forget(p)
		}
	}
}

// failedStart counts a failed start and goes to BACKOFF, or to FATAL
// (FAILED for a oneshot) once retries are spent. c describes the exit.
func (s *Supervisor) failedStart(p *program, c Change, info exitInfo) {
	p.failures++
	c.State = afterFailedStart(p.cfg, p.failures)
	c.Failures = p.failures
	c.Reason += " before startsecs"
	if c.State == Backoff {
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
		p.failures = 0
		s.changed(p, Change{State: Running, From: Starting, Pid: p.pid, Reason: "up for startsecs"})
	case Backoff:
		if p.wanted() && s.phase == running {
			s.start(p)
		}
	case Stopping:
		s.log.Warn().Str("program", p.cfg.Name).Int("pid", p.pid).Str("stopwaitsecs", p.cfg.StopWaitSecs.String()).
			Msg("did not stop in time: SIGKILL to its process group")
		s.killGroup(p)
	}
}

// stop sends p its stop signal, and SIGCONT so a stopped process can act
// on it, and gives it stopwaitsecs before SIGKILL.
func (s *Supervisor) stop(p *program, reason string) {
	if p.intent == intentRun {
		p.intent = intentStop
	}
	if !p.alive() {
		if p.state == Backoff {
			s.changed(p, Change{State: Stopped, From: Backoff, Reason: reason})
		}
		return
	}
	sig := p.cfg.StopSignal
	s.os.kill(-p.pid, sig)
	s.os.kill(-p.pid, unix.SIGCONT)
	if s.phase != running {
		s.noteStopSent(p.pid) // the sweep passes its group over
	}
	p.due = s.now().Add(p.cfg.StopWaitSecs)
	s.changed(p, Change{State: Stopping, From: p.state, Pid: p.pid, Signal: signals.Name(sig), Reason: reason})
}

// killSignal is SIGKILL, named for the places that stop what cannot be
// asked.
const killSignal = unix.SIGKILL

func (s *Supervisor) killGroup(p *program) {
	s.os.kill(-p.pid, killSignal)
	s.killedAny = true
}

// changed moves p to c.State, logs the change with the fixed keys, and
// publishes it. The main program's lines are debug level: in init mode
// tend is as quiet as tini.
func (s *Supervisor) changed(p *program, c Change) {
	c.Program, c.Time = p.cfg.Name, time.Now()
	p.state, p.since = c.State, c.Time
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
	ev.Str("reason", c.Reason).Msg("state")
	s.publish(c)
}

// jitter is uniform in [-1, 1].
func jitter() float64 { return rand.Float64()*2 - 1 }
