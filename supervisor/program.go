package supervisor

import (
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"tend/config"
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
	started  time.Time // when the current run began
	failures int       // failed starts in a row
	due      time.Time // the state's deadline (startsecs, backoff, stopwaitsecs); zero: none
	want     bool      // should run: autostart, until a stop or the shutdown
	waitSaid bool      // "waiting for a dead dependency" was logged
}

// alive reports whether the program has a process.
func (p *program) alive() bool { return p.pid != 0 }

// startReady starts every wanted program whose dependencies are met, and
// the main program once every sidecar has settled.
func (s *Supervisor) startReady() {
	for _, p := range s.programs {
		if p.isMain || !p.want || p.state != Stopped {
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
	if m := s.main; m != nil && m.want && m.state == Stopped && s.sidecarsSettled() {
		s.start(m)
	}
}

// deps checks p's dependencies: met when all are, dead when one cannot
// be (and which one), pending otherwise.
func (s *Supervisor) deps(p *program) (depCheck, *program) {
	result := depMet
	for _, d := range p.cfg.DependsOn {
		q := s.byName[d.Name]
		switch checkDep(d, q.cfg.Type, q.state, s.stuck(q)) {
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
	if !p.want {
		return true
	}
	check, _ := s.deps(p)
	return check == depDead
}

// sidecarsSettled: the main program starts once every wanted sidecar has
// come up or come to an end, as s6-overlay starts CMD after its services.
func (s *Supervisor) sidecarsSettled() bool {
	for _, p := range s.programs {
		if p.isMain || !p.want {
			continue
		}
		if p.state == Running || p.state.final() || s.stuck(p) {
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
		finish, err = s.spawnOutput(p, &cmd)
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
		if p.isMain {
			// The main program gets one try, as in init mode.
			s.setCode(code)
			p.state = Exited
			s.shutdown("the main program could not start")
			return
		}
		p.started = now
		s.failedStart(p, from, exitInfo{code: code}, "spawn failed: "+err.Error())
		return
	}
	p.pid, p.started = pid, now
	s.byPid[pid] = p
	if p.cfg.StartSecs > 0 {
		p.due = now.Add(p.cfg.StartSecs)
		s.setStatePid(p, Starting, from, "started")
		return
	}
	p.failures = 0
	s.setStatePid(p, Running, from, "started")
}

// command is what spawn runs for p.
func (s *Supervisor) command(p *program) (Command, error) {
	c := Command{Argv: p.cfg.Command, Dir: p.cfg.Directory, Umask: -1}
	if p.isMain {
		c.Foreground = ownsTerminal()
		return c, nil
	}
	c.Stdin = s.devNull
	c.Env = mergeEnv(os.Environ(), p.cfg.Environment, p.cfg)
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
	now := s.now()
	from := p.state
	p.pid, p.due = 0, time.Time{}
	info := exitInfo{code: e.Code(), signaled: e.Status.Signaled(), ran: now.Sub(p.started)}
	reason := "exited"
	if info.signaled {
		reason = "killed by signal " + signals.Name(e.Status.Signal())
	}
	if p.isMain {
		s.logExit(p, Exited, from, e, reason)
		p.state = Exited
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
		s.logExit(p, Stopped, p.state, e, reason)
		p.state = Stopped
	case failedStart:
		s.failedStart(p, from, info, reason+" before startsecs")
	case restart:
		s.logExit(p, Exited, from, e, reason+"; autorestart="+string(p.cfg.Autorestart))
		p.state = Exited
		s.start(p)
	case exited:
		s.logExit(p, Exited, from, e, reason)
		p.state = Exited
		s.finalState(p, info)
	case completed:
		s.logExit(p, Completed, from, e, reason)
		p.state = Completed
	case failed:
		s.logExit(p, Failed, from, e, reason)
		p.state = Failed
		s.finalState(p, info)
	}
}

// failedStart counts a failed start and goes to BACKOFF, or to FATAL
// (FAILED for a oneshot) once retries are spent.
func (s *Supervisor) failedStart(p *program, from State, info exitInfo, reason string) {
	p.failures++
	next := afterFailedStart(p.cfg, p.failures)
	ev := s.stateEvent(p, next, from).Int("exit_code", info.code).Int("failures", p.failures).Str("reason", reason)
	p.state = next
	if next == Backoff {
		delay := backoffDelay(p.cfg.Backoff, p.failures, s.rand())
		p.due = s.now().Add(delay)
		ev.Str("retry_in", delay.Round(time.Millisecond).String()).Msg("state")
		return
	}
	ev.Msg("state")
	s.finalState(p, info)
}

// finalState: a critical program that has failed for good stops tend,
// which exits with its code (at least 1).
func (s *Supervisor) finalState(p *program, info exitInfo) {
	if !p.cfg.Critical || s.phase != running {
		return
	}
	s.setCode(max(info.code, 1))
	s.shutdown("critical program " + p.cfg.Name + " is " + string(p.state))
}

// onDue handles the deadline of p's state.
func (s *Supervisor) onDue(p *program) {
	switch p.state {
	case Starting:
		p.failures = 0
		s.setStatePid(p, Running, Starting, "up for startsecs")
	case Backoff:
		if p.want && s.phase == running {
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
	p.want = false
	if !p.alive() {
		if p.state == Backoff {
			s.setState(p, Stopped, reason)
		}
		return
	}
	sig := p.cfg.StopSignal
	s.os.kill(-p.pid, sig)
	s.os.kill(-p.pid, unix.SIGCONT)
	p.due = s.now().Add(p.cfg.StopWaitSecs)
	s.stateEvent(p, Stopping, p.state).Int("pid", p.pid).Str("signal", signals.Name(sig)).Str("reason", reason).Msg("state")
	p.state = Stopping
}

func (s *Supervisor) killGroup(p *program) {
	s.os.kill(-p.pid, unix.SIGKILL)
	s.killedAny = true
}

// setState changes p's state and logs it, one line per change.
func (s *Supervisor) setState(p *program, to State, reason string) {
	s.stateEvent(p, to, p.state).Str("reason", reason).Msg("state")
	p.state = to
}

func (s *Supervisor) setStatePid(p *program, to, from State, reason string) {
	s.stateEvent(p, to, from).Int("pid", p.pid).Str("reason", reason).Msg("state")
	p.state = to
}

func (s *Supervisor) logExit(p *program, to, from State, e reaper.Exit, reason string) {
	ev := s.stateEvent(p, to, from).Int("pid", e.Pid).Int("exit_code", e.Code()).Str("reason", reason)
	if e.Status.Signaled() {
		ev = ev.Str("signal", signals.Name(e.Status.Signal()))
	}
	ev.Msg("state")
}

// stateEvent starts a state-change line. The main program's lines are
// debug level: in init mode tend is as quiet as tini.
func (s *Supervisor) stateEvent(p *program, to, from State) *zerolog.Event {
	lvl := s.log.Info()
	if p.isMain {
		lvl = s.log.Debug()
	}
	return lvl.Str("program", p.cfg.Name).Str("state", string(to)).Str("from", string(from))
}

// jitter is uniform in [-1, 1].
func jitter() float64 { return rand.Float64()*2 - 1 }
