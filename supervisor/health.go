package supervisor

import (
	"fmt"
	"time"

	"tend/api"
	"tend/config"
)

// Health and readiness checks. A program has up to two probes, each with
// the keys of a [healthcheck] table: its health check (liveness), which
// may restart it when it fails, and its readiness check ([readiness]),
// which decides whether it is ready and never restarts it. Both run the
// same way: while the program is STARTING or RUNNING (never while
// PAUSED), `interval` from the start of one probe to the start of the
// next. What a probe does is its checker's (checker.go): exec probes are
// spawned by the loop like programs (the loop is the one owner of every
// wait) and killed at `timeout`; http and tcp probes run on a goroutine
// of their own that reports back. The loop keeps every timeout in tend
// time, so a frozen container does not fail a probe on thaw. `retries`
// failures in a row make the verdict bad (unhealthy, not ready), one
// success good; failures during `start_period` do not count.

// probeRole is what a probe's verdict means.
type probeRole int

const (
	// liveness is [healthcheck]: healthy or unhealthy; on_unhealthy
	// may restart the program.
	liveness probeRole = iota
	// readinessRole is [readiness]: ready or not; never restarts.
	readinessRole
)

// probe is the loop's record of one of a program's checks.
type probe struct {
	prog   *program
	role   probeRole
	cfg    *config.Healthcheck // this run's; nil: the program has none
	due    time.Time           // next probe start; zero: none scheduled
	end    time.Time           // timeout of the probe in flight; zero: none in flight
	began  time.Time           // start of the probe in flight, or of the last one
	check  checker             // this run's, for its kind; nil: none
	gen    uint64              // tags a goroutine probe's result; a stale one is dropped
	fails  int                 // failures in a row
	health api.Health          // the verdict: healthy (passes), unhealthy, or starting (none yet)
	passed bool                // a probe of this run has passed: start_interval is over
}

// name is how the log calls the probe.
func (pr *probe) name() string {
	if pr.role == readinessRole {
		return "readiness probe"
	}
	return "probe"
}

// probeResult is what a goroutine probe reports.
type probeResult struct {
	pr  *probe
	gen uint64
	err error
}

// checks are p's probes, the health check first.
func (p *program) checks() [2]*probe { return [2]*probe{&p.probe, &p.rprobe} }

// healthy says whether p counts as healthy for depends_on: RUNNING and,
// with a health check, passing it.
func (p *program) healthy() bool {
	return p.state == Running && (p.cfg.Healthcheck == nil || p.probe.health == api.HealthHealthy)
}

// resetHealth starts health and readiness checking over for a new
// process, with checkers for the kinds its config has now.
func (s *Supervisor) resetHealth(p *program) {
	s.cancelProbe(p)
	p.probe.prog, p.probe.role, p.probe.cfg = p, liveness, p.cfg.Healthcheck
	p.rprobe.prog, p.rprobe.role, p.rprobe.cfg = p, readinessRole, p.cfg.Readiness
	for _, pr := range p.checks() {
		pr.check, pr.health, pr.passed = nil, "", false
		if pr.cfg == nil {
			continue
		}
		pr.check = newChecker(pr.cfg)
		pr.fails, pr.health = 0, api.HealthStarting
		pr.due = s.now().Add(pr.firstInterval())
	}
}

// firstInterval is the time to pr's next probe: start_interval until a
// probe of this run has passed (as Docker's), interval after.
func (pr *probe) firstInterval() time.Duration {
	if pr.cfg.StartInterval > 0 && pr.health != api.HealthHealthy && !pr.passed {
		return pr.cfg.StartInterval
	}
	return pr.cfg.Interval
}

// cancelProbe forgets p's probes in flight and the next ones.
func (s *Supervisor) cancelProbe(p *program) {
	for _, pr := range p.checks() {
		if pr.check != nil {
			pr.check.stop(s)
		}
		pr.gen++
		pr.due, pr.end = time.Time{}, time.Time{}
	}
}

// resumeProbes schedules p's probes an interval from now (ctl resume).
func (s *Supervisor) resumeProbes(p *program) {
	for _, pr := range p.checks() {
		if pr.check != nil {
			pr.due = s.now().Add(pr.cfg.Interval)
		}
	}
}

// startProbe runs pr once.
func (s *Supervisor) startProbe(pr *probe) {
	now := s.now()
	pr.began, pr.end = now, now.Add(pr.cfg.Timeout)
	pr.due = time.Time{}
	pr.gen++
	if err := pr.check.start(s, pr); err != nil {
		s.probeDone(pr, fmt.Errorf("probe: %w", err))
	}
}

// onProbeResult takes a goroutine probe's answer, unless it is stale.
func (s *Supervisor) onProbeResult(r probeResult) {
	if r.gen != r.pr.gen || r.pr.end.IsZero() {
		return
	}
	r.pr.check.stop(s)
	s.probeDone(r.pr, r.err)
}

// onProbeExit takes an exec probe's exit.
func (s *Supervisor) onProbeExit(pr *probe, pid, code int) {
	c, ok := pr.check.(*execChecker)
	if !ok {
		return // a probe of an earlier run
	}
	if mine, err := c.exited(pid, code); mine {
		s.probeDone(pr, err)
	}
}

// onProbeTimeout: the probe in flight took longer than `timeout`.
func (s *Supervisor) onProbeTimeout(pr *probe) {
	pr.check.stop(s)
	pr.gen++
	s.probeDone(pr, fmt.Errorf("timed out after %v", pr.cfg.Timeout))
}

// probeDone counts one probe's outcome and schedules the next.
func (s *Supervisor) probeDone(pr *probe, err error) {
	p, hc := pr.prog, pr.cfg
	pr.end = time.Time{}
	pr.due = pr.began.Add(pr.firstInterval())
	if err == nil {
		pr.fails, pr.passed = 0, true
		pr.due = pr.began.Add(hc.Interval)
		s.setVerdict(pr, api.HealthHealthy, pr.name()+" passed")
		return
	}
	if s.now().Sub(p.started) < hc.StartPeriod {
		s.log.Debug().Str("program", p.cfg.Name).Err(err).Msg(pr.name() + " failed in start_period: not counted")
		return
	}
	pr.fails++
	s.log.Debug().Str("program", p.cfg.Name).Err(err).Int("failures", pr.fails).Msg(pr.name() + " failed")
	if pr.fails < hc.Retries {
		return
	}
	s.setVerdict(pr, api.HealthUnhealthy, fmt.Sprintf("%d %ss failed in a row: %v", pr.fails, pr.name(), err))
	if pr.role == liveness && hc.OnUnhealthy == config.UnhealthyRestart && s.phase == running && p.state == Running {
		p.restartOnceDown()
		s.stop(p, "unhealthy")
	}
}

// setVerdict records a probe's verdict: for the health check, a change
// of health, one log line and one event; for the readiness check, a
// change of readiness (readiness.go). A first pass is also the ready
// signal of a program with ready = "healthy": of its readiness check,
// or of its health check when it has none.
func (s *Supervisor) setVerdict(pr *probe, health api.Health, reason string) {
	p := pr.prog
	changed := pr.health != health
	pr.health = health
	if health == api.HealthHealthy && p.cfg.Ready.Kind == config.ReadyHealthy &&
		(pr.role == readinessRole || p.cfg.Readiness == nil) {
		s.readySignal(p, reason)
	}
	if !changed {
		return
	}
	if pr.role == readinessRole {
		s.noteReady(p, reason)
		return
	}
	ev := s.log.Info()
	if health == api.HealthUnhealthy {
		ev = s.log.Warn()
	}
	ev.Str("program", p.cfg.Name).Int("pid", p.pid).Str("state", string(p.state)).
		Str("health", string(health)).Str("reason", reason).Msg("health")
	s.publish(Change{Program: p.cfg.Name, State: p.state, From: p.state, Pid: p.pid,
		Time: time.Now(), Health: health, Ready: p.isReady(), Reason: reason})
}

// probeDeadlines runs the probes that are due and times out the ones that
// are late; the loop calls it from onTimer.
func (s *Supervisor) probeDeadlines(now time.Time) {
	for _, p := range s.programs {
		for _, pr := range p.checks() {
			if pr.check == nil {
				continue
			}
			if !pr.end.IsZero() && !now.Before(pr.end) {
				s.onProbeTimeout(pr)
			}
			if !pr.due.IsZero() && !now.Before(pr.due) && pr.end.IsZero() &&
				(p.state == Running || p.state == Starting) && s.phase == running {
				s.startProbe(pr)
			}
		}
	}
}
