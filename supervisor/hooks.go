package supervisor

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Lifecycle hooks: pre_start, pre_stop and post_stop. A hook runs as its
// program does (user, groups, directory, environment, umask), in a
// process group of its own, with its output where the program's goes
// ("web(pre_stop) | " in prefix mode). The loop spawns it and the one
// reaper reaps it, as an exec probe; hook_timeout is one more deadline of
// the loop's timer, and then the hook's group gets SIGKILL.

// Hook kinds, as their keys are spelled.
const (
	hookPreStart = "pre_start"
	hookPreStop  = "pre_stop"
	hookPostStop = "post_stop"
)

// hook is a program's hook in flight; a program runs one at a time.
type hook struct {
	kind   string
	pid    int
	end    time.Time // hook_timeout (tend time); zero once killed
	killed bool      // timed out, and SIGKILLed
	began  time.Time
	// then is what comes after the hook, on the loop: ok when it exited
	// 0 in time. It runs once, when the hook's exit is reaped (or at
	// once when the hook could not be spawned).
	then func(ok bool)
}

// runHook runs p's hook kind, argv, and calls then once it is over; with
// no argv, at once. A hook that cannot be spawned counts as failed.
func (s *Supervisor) runHook(p *program, kind string, argv []string, then func(ok bool)) {
	if len(argv) == 0 {
		then(true)
		return
	}
	if h := p.hook; h != nil {
		// One hook at a time: a pre_stop run at a drain's start may still
		// be going when a crash's post_stop or a restart's pre_start
		// comes. The new one is left out, not queued: its step goes on.
		s.log.Warn().Str("program", p.cfg.Name).Str("hook", kind).Str("running", h.kind).
			Msg("hook not run: another hook of the program is still running")
		then(true)
		return
	}
	// Its output goes where the program's does: tend's own for inherit,
	// else the pipes openOutputsAs makes (nil here stands for tend's).
	cmd, err := s.sideCommand(p, argv, nil, nil)
	var finish func(ok bool)
	if err == nil {
		finish, err = s.openOutputsAs(p, &cmd, fmt.Sprintf("%s(%s)", p.cfg.Name, kind), nil)
	}
	pid := 0
	if err == nil {
		pid, err = s.spawn(p, cmd)
		finish(err == nil)
	}
	if err != nil {
		p.hookCode = 126
		var ee *ExecError
		if errors.As(err, &ee) {
			p.hookCode = ee.Code()
		}
		s.log.Error().Str("program", p.cfg.Name).Str("hook", kind).Err(err).Msg("hook cannot start")
		then(false)
		return
	}
	// Recorded before the next receive, like a program's pid.
	now := s.now()
	p.hook = &hook{kind: kind, pid: pid, began: now, end: now.Add(p.cfg.HookTimeout), then: then}
	s.hookPids[pid] = p
	s.log.Debug().Str("program", p.cfg.Name).Str("hook", kind).Int("pid", pid).Msg("hook started")
}

// onHookExit takes the exit of a hook's process.
func (s *Supervisor) onHookExit(p *program, pid, code int) {
	h := p.hook
	if h == nil || h.pid != pid {
		return // a hook the program no longer waits for
	}
	p.hook, p.hookCode = nil, code
	ok := code == 0 && !h.killed
	took := s.now().Sub(h.began).Round(time.Millisecond).String()
	switch {
	case h.killed:
		s.log.Warn().Str("program", p.cfg.Name).Str("hook", h.kind).Str("hook_timeout", p.cfg.HookTimeout.String()).
			Msg("hook killed at its timeout")
	case code != 0:
		s.log.Warn().Str("program", p.cfg.Name).Str("hook", h.kind).Int("exit_code", code).Str("took", took).Msg("hook failed")
	default:
		s.log.Info().Str("program", p.cfg.Name).Str("hook", h.kind).Str("took", took).Msg("hook done")
	}
	h.then(ok)
}

// hookDeadlines kills the hooks whose hook_timeout has passed; their
// exits, when reaped, end them as failed.
func (s *Supervisor) hookDeadlines(now time.Time) {
	for _, p := range s.programs {
		if h := p.hook; h != nil && !h.end.IsZero() && !now.Before(h.end) {
			h.end, h.killed = time.Time{}, true
			s.os.kill(-h.pid, unix.SIGKILL)
		}
	}
}

// killHook kills p's hook in flight, if any, when p's fate no longer
// waits for it (shutdown_timeout).
func (s *Supervisor) killHook(p *program) {
	if h := p.hook; h != nil {
		h.end, h.killed = time.Time{}, true
		s.os.kill(-h.pid, unix.SIGKILL)
	}
}

// preStopAll runs, at a drain's start, the pre_stop hook of every
// program about to stop: the drain is the time the hooks' work
// (deregistering from service discovery) needs to take effect while the
// programs still serve. Each then stops without running it again.
func (s *Supervisor) preStopAll() {
	for _, p := range s.programs {
		if len(p.cfg.PreStop) == 0 || p.isMain || p.pid == 0 || p.preStopped || p.hook != nil {
			continue
		}
		p.preStopped = true
		s.runHook(p, hookPreStop, p.cfg.PreStop, func(bool) {})
	}
}

// hooksRunning reports whether any program has a hook in flight.
func (s *Supervisor) hooksRunning() bool {
	for _, p := range s.programs {
		if p.hook != nil {
			return true
		}
	}
	return false
}
