package supervisor

import (
	"errors"
	"fmt"
	"path"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"tend/config"
	"tend/signals"
)

// The actions `tend ctl` asks for, run on the loop's goroutine. Each
// returns the programs it acted on, or an error a person can read.

// match resolves names and globs ("web:*") to programs, in config order.
// No name matches every program. A name that matches nothing is an
// error.
func (s *Supervisor) match(names []string) ([]*program, error) {
	if len(names) == 0 {
		return slices.Clone(s.programs), nil
	}
	var out []*program
	for _, n := range names {
		found := false
		for _, p := range s.programs {
			if ok, _ := path.Match(n, p.cfg.Name); ok || n == p.cfg.Group {
				found = true
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("no program matches %q", n)
		}
	}
	return out, nil
}

// startProgram makes p wanted again: from FATAL, EXITED, STOPPED and the
// rest it starts as soon as its dependencies allow, with a fresh count of
// failures. A live program is left alone.
func (s *Supervisor) startProgram(p *program, reason string) {
	if p.isMain {
		return
	}
	if p.state == Stopping {
		p.restartOnceDown()
		return
	}
	if p.alive() {
		return
	}
	p.intent, p.failures, p.waitSaid, p.due = intentRun, 0, false, time.Time{}
	if p.cfg.Schedule != nil && reason != scheduleReason {
		p.sched.on = true // ctl start: runs now, and on its timetable again
	}
	p.crashes, p.recent = 0, nil
	if p.state != Stopped {
		s.changed(p, Change{State: Stopped, From: p.state, Reason: reason})
	}
}

// stopProgram makes p unwanted and stops it: a restart under way (ctl
// restart, unhealthy, a reload) is called off, and a program already
// stopping is not sent its stop signal again.
func (s *Supervisor) stopProgram(p *program, reason string) {
	if p.intent != intentRemove {
		p.intent = intentStop
	}
	p.sched = schedState{} // ctl stop: off its timetable until ctl start
	if p.state == Stopping {
		return
	}
	s.stop(p, reason)
}

// restartProgram stops p and starts it again once it is down.
func (s *Supervisor) restartProgram(p *program, reason string) {
	if p.isMain {
		return
	}
	if !p.alive() || p.state == Stopping {
		s.startProgram(p, reason)
		return
	}
	p.restartOnceDown()
	s.stop(p, reason)
}

// pause freezes a RUNNING program: its cgroup with the freezer where it
// has one, else its process group with SIGSTOP (cgroups.go). A PAUSED
// program is neither restarted nor health-checked.
func (s *Supervisor) pause(p *program, reason string) error {
	if p.state != Running {
		return fmt.Errorf("%s is %s, not RUNNING", p.cfg.Name, p.state)
	}
	if err := s.freezeOrStop(p); err != nil {
		return fmt.Errorf("pause %s: %w", p.cfg.Name, err)
	}
	s.cancelProbe(p)
	s.changed(p, Change{State: Paused, From: Running, Pid: p.pid, Reason: reason})
	return nil
}

// resume thaws a PAUSED program (its cgroup, or SIGCONT); its health
// checks pick up where they were.
func (s *Supervisor) resume(p *program, reason string) error {
	if p.state != Paused {
		return fmt.Errorf("%s is %s, not PAUSED", p.cfg.Name, p.state)
	}
	if err := s.thawOrCont(p); err != nil {
		return fmt.Errorf("resume %s: %w", p.cfg.Name, err)
	}
	if p.said {
		s.armWatchdog(p) // a whole interval from now: it was frozen
	}
	s.changed(p, Change{State: Running, From: Paused, Pid: p.pid, Reason: reason})
	s.resumeProbes(p)
	return nil
}

// signalProgram sends sig to p's process group.
func (s *Supervisor) signalProgram(p *program, sig syscall.Signal) error {
	if !p.alive() {
		return fmt.Errorf("%s is %s: no process to signal", p.cfg.Name, p.state)
	}
	if err := s.os.kill(-p.pgid(), sig); err != nil {
		return fmt.Errorf("signal %s %s: %w", signals.Name(sig), p.cfg.Name, err)
	}
	return nil
}

// health answers `tend ctl health` and /readyz: every critical program
// (every program when none is critical, the main program included)
// RUNNING, healthy and ready; otherwise the first that is not, in one
// line. When nothing is
// critical, a program that is down on purpose (autostart = false and never
// started, or stopped by tend ctl stop) is left out: it is not failing,
// someone chose it. A critical program counts however it went down: the
// container is there for it.
func (s *Supervisor) health() (bool, string) {
	if s.draining {
		return false, "draining"
	}
	critical := slices.ContainsFunc(s.programs, func(p *program) bool { return p.cfg.Critical })
	for _, p := range s.programs {
		if critical && !p.cfg.Critical {
			continue
		}
		switch {
		case !critical && !p.wanted() && p.state == Stopped && s.phase == running:
		case p.cfg.Type == config.Oneshot && p.state == Completed:
		case p.state != Running:
			return false, fmt.Sprintf("%s is %s", p.cfg.Name, p.state)
		case !p.healthy():
			return false, fmt.Sprintf("%s is %s", p.cfg.Name, p.probe.health)
		case !p.isReady():
			return false, fmt.Sprintf("%s is not ready", p.cfg.Name)
		}
	}
	if s.phase != running {
		return false, "tend is shutting down"
	}
	return true, "ok"
}

// reload re-reads the config file. An invalid file changes nothing and
// every error is returned. Otherwise added programs start, removed ones
// stop and go, changed ones restart with their new config, and unchanged
// ones are not touched (same process, same pid).
func (s *Supervisor) reload(reason string) error {
	if s.opts.Config == nil {
		return errors.New("reload needs a config file (tend -c FILE)")
	}
	// Reading a file, valid or not, can take tens of MiB that are
	// garbage once it is read (config keeps any file within 64 MiB).
	// Reloads are rare and tend is PID 1: give that memory back to the
	// kernel now rather than keep it as the heap's high-water mark, so a
	// rejected reload leaves tend's memory where it was.
	defer debug.FreeOSMemory()
	cfg, err := config.Load(s.opts.Config.File)
	if err != nil {
		// One line, with the errors as a field: a message of many lines
		// would put all but the first without a time or a level.
		s.log.Error().Str("config", s.opts.Config.File).Strs("errors", strings.Split(err.Error(), "\n")).
			Msg("reload: invalid config, nothing changed")
		return err
	}
	if err := s.reloadCgroups(cfg); err != nil {
		s.log.Error().Str("config", s.opts.Config.File).Err(err).Msg("reload: nothing changed")
		return err
	}
	var added, changed, removed []string
	keep := map[string]bool{}
	var programs []*program
	for _, pc := range cfg.Programs {
		keep[pc.Name] = true
		p := s.byName[pc.Name]
		if p != nil && p.intent == intentRemove {
			// Removed by an earlier reload and not down yet: it is back,
			// so it is not forgotten once down, and comes up again if
			// it is to.
			p.intent = intentStop
			if pc.Autostart {
				p.intent = intentRestart
			}
		}
		switch {
		case p == nil:
			p = newProgram(pc)
			p.state = Stopped
			s.byName[pc.Name] = p
			added = append(added, pc.Name)
		case !reflect.DeepEqual(*p.cfg, *pc):
			changed = append(changed, pc.Name)
			p.next = pc
			if p.alive() {
				// Up again after the stop if it is wanted now or was.
				if pc.Schedule == nil && (pc.Autostart || p.wanted()) {
					p.intent = intentRestart
				} else {
					p.intent = intentStop
				}
				s.stop(p, reason+": config changed")
			} else {
				s.adopt(p)
				p.intent = startIntent(pc)
			}
		}
		programs = append(programs, p)
	}
	for _, p := range s.programs {
		if p.isMain || keep[p.cfg.Name] {
			continue
		}
		removed = append(removed, p.cfg.Name)
		p.intent = intentRemove
		s.stop(p, reason+": removed")
		if p.alive() || p.hook != nil {
			// Until it is down and its hook is over: forgotten then
			// (applyExit, or start's pre_start).
			programs = append(programs, p)
		} else {
			s.release(p)
		}
	}
	if s.main != nil {
		programs = append(programs, s.main)
	}
	s.programs = programs
	if keys := s.opts.Config.Tend.StartOnly(cfg.Tend); len(keys) > 0 {
		s.log.Warn().Strs("keys", keys).Msg("reload: these [tend] keys changed, and take effect at tend's next start")
	}
	s.opts.Config = cfg
	s.log.Info().Str("reason", reason).Str("added", strings.Join(added, ",")).
		Str("changed", strings.Join(changed, ",")).Str("removed", strings.Join(removed, ",")).Msg("reloaded")
	return nil
}

// adopt switches p to the config a reload gave it, once p is down.
func (s *Supervisor) adopt(p *program) {
	if p.next != nil {
		// A new socket for the new config (its user, or whether it has
		// one at all, may have changed), at the next start.
		s.closeSocket(p)
		p.cfg, p.next = p.next, nil
		p.failures, p.waitSaid, p.crashes, p.recent = 0, false, 0, nil
		p.sched = schedState{on: p.cfg.Schedule != nil && p.cfg.Autostart}
	}
}

// forget drops a program a reload removed, once it is down.
func (s *Supervisor) forget(p *program) {
	s.programs = slices.DeleteFunc(s.programs, func(q *program) bool { return q == p })
	s.release(p)
}

// release lets go of what a forgotten program holds: its name, its
// notify socket, its cgroup.
func (s *Supervisor) release(p *program) {
	if s.byName[p.cfg.Name] == p { // not a program a later reload added by that name
		delete(s.byName, p.cfg.Name)
	}
	s.closeSocket(p)
	s.removeCgroup(p)
}
