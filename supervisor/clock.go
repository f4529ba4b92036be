package supervisor

import (
	"math"

	"slices"
	"tend/api"
	"time"
)

// Tend time and the loop's one timer.

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
// two cores). A docker pause lasts seconds.
// To bound what a freeze that begins between two wakeups can cost, the
// timer is capped at heartbeat while a time-sensitive deadline is
// pending (a program STARTING or STOPPING, a crashed program's
// backoff.reset, the grace period, the shutdown). Idle, with every
// program RUNNING and up for backoff.reset, tend still never wakes.
const (
	heartbeat       = 250 * time.Millisecond
	freezeTolerance = time.Second
)

// now is tend time: the monotonic clock less frozen time, as read once
// at the start of the loop's current turn (noteFreeze). One reading per
// turn: a freeze that lands in the middle of a turn, after noteFreeze
// has looked for one, must not pass for time the programs ran when a
// handler reads the clock again (a startsecs deadline seen as passed).
// The next turn's noteFreeze counts it.
func (s *Supervisor) now() time.Time {
	return s.turn
}

// noteFreeze runs after every wakeup: a timer that fired (or would have)
// more than freezeTolerance late means tend was not running for that
// long, and its programs with it: deadlines leave that time out.
//
// Two things stop tend for seconds: a freeze of the container (`docker
// pause`, the cgroup freezer) and a stall of the host (CPUs taken by
// others, a VM descheduled). The run delay of tend's threads tells them
// apart: a stalled thread waits for a CPU and the kernel counts that
// wait; a frozen one sleeps. A freeze is logged as one, counted, and
// followed by every health probe at once, as what they last said is
// stale; a stall is logged as "tend did not run".
func (s *Supervisor) noteFreeze() {
	real := s.os.now()
	if !s.timerDue.IsZero() {
		if late := real.Sub(s.timerDue); late > freezeTolerance {
			s.frozen += late
			s.onLate(late)
		}
		s.timerDue = time.Time{}
	}
	s.turnReal, s.turn = real, real.Add(-s.frozen)
	if s.thawed {
		s.thawed = false
		s.probesNow()
		s.watchdogsAfterThaw()
	}
}

// probesNow makes every health and readiness check that waits for its
// next interval due now: after a freeze, what they last found is stale
// (moby#46203).
func (s *Supervisor) probesNow() {
	for _, p := range s.programs {
		for _, pr := range p.checks() {
			if pr.check != nil && !pr.due.IsZero() && pr.end.IsZero() {
				pr.due = s.turn
			}
		}
	}
}

// onLate handles a wakeup that came late, after the clock is set.
func (s *Supervisor) onLate(late time.Duration) {
	d, ok := s.os.runDelay()
	waited := d - s.delayMark
	if ok && s.delayOK && waited >= late/2 {
		s.log.Warn().Str("stalled", late.Round(time.Millisecond).String()).
			Str("waiting_for_cpu", waited.Round(time.Millisecond).String()).
			Msgf("tend did not run for %s: the host gave it no CPU; deadlines leave that time out", late.Round(time.Millisecond))
		return
	}
	s.freezes++
	s.frozenTotal += late
	s.thawed = true
	s.log.Info().Str("frozen", late.Round(time.Millisecond).String()).
		Msgf("the container was frozen for %s: deadlines leave that time out; every health check runs now", late.Round(time.Millisecond))
	s.publish(api.Event{Kind: api.EventThaw, Time: time.Now(), FrozenS: late.Round(time.Millisecond).Seconds()})
}

// markDelay reads the run delay before the loop waits, at most once per
// freezeTolerance: onLate compares against it, and a reading up to that
// old only adds a wait shorter than any lateness it looks at.
func (s *Supervisor) markDelay() {
	if s.timerDue.IsZero() || s.turnReal.Sub(s.delayAt) < freezeTolerance {
		return
	}
	s.delayMark, s.delayOK = s.os.runDelay()
	s.delayAt = s.turnReal
}

// sensitive reports whether a deadline is pending whose meaning a freeze
// would change.
func (s *Supervisor) sensitive() bool {
	if !s.shutdownDue.IsZero() || !s.phaseDue.IsZero() {
		return true
	}
	return slices.ContainsFunc(s.programs, func(p *program) bool {
		return p.state == Starting || p.state == Stopping || !p.probe.end.IsZero() || !p.rprobe.end.IsZero() || p.hook != nil ||
			(p.state == Running && !p.due.IsZero()) // backoff.reset (watchReset)
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
		for _, pr := range p.checks() {
			earlier(pr.due)
			earlier(pr.end)
		}
		earlier(p.sched.next)
		earlier(p.wdDue)
		if p.hook != nil {
			earlier(p.hook.end)
		}
	}
	earlier(s.shutdownDue)
	earlier(s.startDue)
	earlier(s.phaseDue)
	earlier(s.drainDue)
	if s.draining {
		earlier(s.drainEnd)
	}
	reap := s.reaps.Due()
	if next.IsZero() && reap.IsZero() {
		if s.timer != nil {
			s.timer.Stop()
		}
		s.timerDue = time.Time{}
		return
	}
	d := time.Duration(math.MaxInt64)
	if !next.IsZero() {
		// Deadlines are in tend time, counted from the turn's reading.
		d = max(next.Sub(s.now()), 0)
		if s.sensitive() {
			d = min(d, heartbeat)
		}
	}
	if !reap.IsZero() {
		// A reap is on the real clock, at the end of its gap from the
		// last drain: counted from now, not from the turn's start, or a
		// turn that drained for milliseconds would put every reap of a
		// storm that much later.
		d = min(d, max(reap.Sub(s.os.now()), 0))
	}
	// Due against the turn's own reading of the clock: the timer fires
	// late by the time the turn took, and by a freeze that lands after
	// that reading, which noteFreeze then counts.
	s.timerDue = s.turnReal.Add(d)
	s.markDelay()
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
