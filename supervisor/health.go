package supervisor

import (
	"fmt"
	"time"

	"tend/api"
	"tend/config"
)

// Health checks. A probe runs while its program is STARTING or RUNNING
// (never while PAUSED), `interval` from the start of one probe to the
// start of the next. What a probe does is its checker's (checker.go):
// exec probes are spawned by the loop like programs (the loop is the one
// owner of every wait) and killed at `timeout`; http and tcp probes run
// on a goroutine of their own that reports back. The loop keeps every
// timeout in tend time, so a frozen container does not fail a probe on
// thaw. `retries` failures in a row make the program unhealthy, one
// success healthy; failures during `start_period` do not count.

// probe is the loop's record of a program's health checking.
type probe struct {
	due    time.Time // next probe start; zero: none scheduled
	end    time.Time // timeout of the probe in flight; zero: none in flight
	began  time.Time // start of the probe in flight, or of the last one
	check  checker   // this run's, for its health check's kind; nil: none
	gen    uint64    // tags a goroutine probe's result; a stale one is dropped
	fails  int       // failures in a row
	health api.Health
}

// probeResult is what a goroutine probe reports.
type probeResult struct {
	p   *program
	gen uint64
	err error
}

// healthy says whether p counts as healthy for depends_on: RUNNING and,
// with a health check, passing it.
func (p *program) healthy() bool {
	return p.state == Running && (p.cfg.Healthcheck == nil || p.probe.health == api.HealthHealthy)
}

// resetHealth starts health checking over for a new process, with a
// checker for the kind its config has now.
func (s *Supervisor) resetHealth(p *program) {
	s.cancelProbe(p)
	p.probe.check = nil
	if p.cfg.Healthcheck == nil {
		return
	}
	p.probe.check = newChecker(p.cfg.Healthcheck)
	p.probe.fails, p.probe.health = 0, api.HealthStarting
	p.probe.due = s.now().Add(p.cfg.Healthcheck.Interval)
}

// cancelProbe forgets the probe in flight and the next one.
func (s *Supervisor) cancelProbe(p *program) {
	if p.probe.check != nil {
		p.probe.check.stop(s)
	}
	p.probe.gen++
	p.probe.due, p.probe.end = time.Time{}, time.Time{}
}

// startProbe runs p's health check once.
func (s *Supervisor) startProbe(p *program) {
	now := s.now()
	p.probe.began, p.probe.end = now, now.Add(p.cfg.Healthcheck.Timeout)
	p.probe.due = time.Time{}
	p.probe.gen++
	if err := p.probe.check.start(s, p); err != nil {
		s.probeDone(p, fmt.Errorf("probe: %w", err))
	}
}

// onProbeResult takes a goroutine probe's answer, unless it is stale.
func (s *Supervisor) onProbeResult(r probeResult) {
	if r.gen != r.p.probe.gen || r.p.probe.end.IsZero() {
		return
	}
	r.p.probe.check.stop(s)
	s.probeDone(r.p, r.err)
}

// onProbeExit takes an exec probe's exit.
func (s *Supervisor) onProbeExit(p *program, pid, code int) {
	c, ok := p.probe.check.(*execChecker)
	if !ok {
		return // a probe of an earlier run
	}
	if mine, err := c.exited(pid, code); mine {
		s.probeDone(p, err)
	}
}

// onProbeTimeout: the probe in flight took longer than `timeout`.
func (s *Supervisor) onProbeTimeout(p *program) {
	p.probe.check.stop(s)
	p.probe.gen++
	s.probeDone(p, fmt.Errorf("timed out after %v", p.cfg.Healthcheck.Timeout))
}

// probeDone counts one probe's outcome and schedules the next.
func (s *Supervisor) probeDone(p *program, err error) {
	hc := p.cfg.Healthcheck
	p.probe.end = time.Time{}
	p.probe.due = p.probe.began.Add(hc.Interval)
	if err == nil {
		p.probe.fails = 0
		s.setHealth(p, api.HealthHealthy, "probe passed")
		return
	}
	if s.now().Sub(p.started) < hc.StartPeriod {
		s.log.Debug().Str("program", p.cfg.Name).Err(err).Msg("probe failed in start_period: not counted")
		return
	}
	p.probe.fails++
	s.log.Debug().Str("program", p.cfg.Name).Err(err).Int("failures", p.probe.fails).Msg("probe failed")
	if p.probe.fails < hc.Retries {
		return
	}
	s.setHealth(p, api.HealthUnhealthy, fmt.Sprintf("%d probes failed in a row: %v", p.probe.fails, err))
	if hc.OnUnhealthy == config.UnhealthyRestart && s.phase == running && p.state == Running {
		p.restartOnceDown()
		s.stop(p, "unhealthy")
	}
}

// setHealth records a change of health, as one log line and one event.
func (s *Supervisor) setHealth(p *program, health api.Health, reason string) {
	if p.probe.health == health {
		return
	}
	p.probe.health = health
	ev := s.log.Info()
	if health == api.HealthUnhealthy {
		ev = s.log.Warn()
	}
	ev.Str("program", p.cfg.Name).Int("pid", p.pid).Str("state", string(p.state)).
		Str("health", string(health)).Str("reason", reason).Msg("health")
	s.publish(Change{Program: p.cfg.Name, State: p.state, From: p.state, Pid: p.pid,
		Time: time.Now(), Health: health, Reason: reason})
}

// probeDeadlines runs the probes that are due and times out the ones that
// are late; the loop calls it from onTimer.
func (s *Supervisor) probeDeadlines(now time.Time) {
	for _, p := range s.programs {
		if p.probe.check == nil {
			continue
		}
		if !p.probe.end.IsZero() && !now.Before(p.probe.end) {
			s.onProbeTimeout(p)
		}
		if !p.probe.due.IsZero() && !now.Before(p.probe.due) && p.probe.end.IsZero() &&
			(p.state == Running || p.state == Starting) && s.phase == running {
			s.startProbe(p)
		}
	}
}
