package supervisor

import (
	"time"

	"tend/config"
)

// Scheduled oneshots (schedule = "*/5 * * * *", every = "10m"): the loop
// keeps each one's next time as a deadline in tend time, among the
// others its one timer is armed to; nothing ticks.

// schedState is a scheduled program's timetable.
type schedState struct {
	// on: the timetable runs. Off with autostart = false and after `ctl
	// stop`, until `ctl start`.
	on bool
	// next is the next run (tend time); zero: not computed yet (or off).
	next time.Time
}

// newProgram is a program as tend's start or a reload first gives it:
// wanted as autostart says; a scheduled one waits for its first time.
func newProgram(pc *config.Program) *program {
	p := &program{cfg: pc, intent: startIntent(pc)}
	p.sched.on = pc.Schedule != nil && pc.Autostart
	return p
}

// startIntent is what pc asks when it is new: to run now (autostart), or
// to wait, for a scheduled oneshot, until its first time.
func startIntent(pc *config.Program) intent {
	if pc.Schedule != nil {
		return intentStop
	}
	return runIf(pc.Autostart)
}

// armSchedules works out the next run of every scheduled program whose
// timetable runs and has none: a cron line's next time comes from the
// wall clock, and is kept as a deadline in tend time, so a freeze of the
// container delays it rather than making it fire at once.
func (s *Supervisor) armSchedules() {
	for _, p := range s.programs {
		if sc := p.cfg.Schedule; sc != nil && p.sched.on && p.sched.next.IsZero() {
			wall := time.Now()
			next := sc.Next(wall)
			if next.IsZero() {
				// A cron line no date matches (February 30th).
				p.sched.on = false
				s.log.Warn().Str("program", p.cfg.Name).Str("schedule", sc.Cron).Msg("the schedule has no next time: it is off")
				continue
			}
			p.sched.next = s.now().Add(next.Sub(wall))
		}
	}
}

// scheduleReason is the reason of a scheduled run's start.
const scheduleReason = "schedule"

// schedulesDue starts the scheduled programs whose time has come. One
// still running then (or about to: waiting for a dependency, or in
// BACKOFF for a retry) is not started twice: that run is skipped, and
// logged.
func (s *Supervisor) schedulesDue(now time.Time) {
	for _, p := range s.programs {
		if p.sched.next.IsZero() || now.Before(p.sched.next) {
			continue
		}
		p.sched.next = time.Time{} // armSchedules sets the next
		if s.phase != running || s.draining {
			continue
		}
		if p.alive() || (p.wanted() && (p.state == Stopped || p.state == Backoff)) {
			s.log.Warn().Str("program", p.cfg.Name).Str("state", string(p.state)).
				Msg("scheduled run skipped: the last one is still going")
			continue
		}
		s.startProgram(p, scheduleReason)
	}
}

// nextRunWall is p's next scheduled run on the wall clock, with now
// tend time, as tend expects it now (a freeze from here on would move it); zero: none.
func (p *program) nextRunWall(now time.Time) time.Time {
	if p.sched.next.IsZero() {
		return time.Time{}
	}
	return time.Now().Add(p.sched.next.Sub(now)).Round(time.Second)
}
