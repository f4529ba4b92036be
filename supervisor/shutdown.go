package supervisor

import (
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"tend/api"
	"tend/config"
	"tend/reaper"
	"tend/signals"
)

// Shutting down: programs in reverse dependency order, then leftovers,
// and tend's exit code.

// killWait bounds how long tend waits for leftovers after SIGKILL. Only a
// process stuck in uninterruptible sleep outlives it; PID 1 exiting makes
// the kernel finish the job.
const killWait = time.Second

// flushWait bounds how long tend waits, once every process is gone, for
// the copiers of program output to reach EOF. Only a process tend could
// not kill can hold a pipe open that long.
const flushWait = time.Second

// drainThenShutdown is a shutdown asked for by a TERM, INT or QUIT, by
// `ctl shutdown` or by a critical failure: with [tend] drain, tend first
// turns not ready (health says "draining"), keeps every program running
// for the drain, and only then shuts down. A second such request during
// the drain cuts it short. The drain counts inside shutdown_timeout.
func (s *Supervisor) drainThenShutdown(reason string) {
	if s.phase != running {
		return
	}
	if s.draining {
		s.log.Info().Str("reason", reason).Msg("the drain is cut short")
		s.shutdown(reason)
		return
	}
	var d time.Duration
	if s.opts.Config != nil {
		d = s.opts.Config.Tend.Drain
	}
	if d <= 0 {
		s.shutdown(reason)
		return
	}
	s.draining, s.drainEnd, s.drainWhy = true, s.now().Add(d), reason
	s.tellStopping()
	s.preStopAll()
	s.publish(api.Event{Kind: api.EventDraining, Time: time.Now(), Reason: reason})
	s.shutdownDue = s.now().Add(s.opts.Config.Tend.ShutdownTimeout)
	s.log.Info().Str("reason", reason).Str("drain", d.String()).Msg("draining: not ready; the programs stop when the drain is over")
}

// shutdown stops every program in reverse dependency order, then the
// leftovers, then exits. The first reason wins; later calls do nothing.
func (s *Supervisor) shutdown(reason string) {
	if s.phase != running {
		return
	}
	s.log.Info().Str("reason", reason).Msg("shutting down")
	s.phase, s.draining = stopping, false
	s.tellStopping()
	if s.opts.Config != nil && s.shutdownDue.IsZero() {
		s.shutdownDue = s.now().Add(s.opts.Config.Tend.ShutdownTimeout)
	}
	for _, p := range s.programs {
		if p.intent == intentRun {
			p.intent = intentStop
		}
		if !p.alive() && p.state == Backoff {
			s.changed(p, Change{State: Stopped, From: Backoff, Reason: "shutdown"})
		}
	}
}

// stopReady stops every live program that no live program depends on:
// the main program first, then the rest in reverse dependency order,
// independent ones in parallel.
func (s *Supervisor) stopReady() {
	for _, p := range s.programs {
		if p.alive() && p.state != Stopping && !s.hasLiveDependent(p) {
			s.stop(p, "shutdown")
		}
	}
}

func (s *Supervisor) hasLiveDependent(p *program) bool {
	if !p.isMain && s.main != nil && s.main.alive() {
		return true // the main program depends on every sidecar
	}
	for _, q := range s.programs {
		if q.alive() && slices.ContainsFunc(q.cfg.DependsOn, func(d config.Dep) bool { return d.Name == p.cfg.Name }) {
			return true
		}
	}
	return false
}

// stopLeftovers moves from stopping programs to stopping whatever else is
// left: every process in the namespace as PID 1, tend's descendants
// otherwise.
func (s *Supervisor) stopLeftovers() {
	s.reaps.Drain(s.onExit)
	s.phase = leftovers
	if s.reaps.Left() {
		s.signalLeftovers(unix.SIGTERM, s.opts.Grace)
	}
}

func (s *Supervisor) signalLeftovers(sig syscall.Signal, wait time.Duration) {
	var skip reaper.Skip
	if sig != unix.SIGKILL {
		skip = s.stopSent
	}
	w, err := s.os.leftovers(s.init, sig, skip)
	if err != nil {
		s.log.Warn().Err(err).Str("signal", signals.Name(sig)).Msg("signalling leftover processes")
	}
	if w.Any() {
		s.os.leftovers(s.init, unix.SIGCONT, nil) // a stopped leftover can act on it
	}
	due := s.now().Add(wait)
	if w.Signalled == 0 && w.Skipped > 0 {
		// Every leftover has had its stop signal already: it gets what
		// is left of the wait from then, not a new one.
		due = maxTime(s.now(), s.stopAt.Add(wait))
	}
	s.log.Debug().Str("signal", signals.Name(sig)).Int("signalled", w.Signalled).Int("skipped", w.Skipped).
		Str("wait", due.Sub(s.now()).String()).Msg("stopping leftover processes")
	s.phaseDue = due
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// onShutdownTimeout: shutdown_timeout bounds the whole shutdown. What is
// still running gets SIGKILL, and so does every leftover.
func (s *Supervisor) onShutdownTimeout() {
	s.log.Warn().Str("shutdown_timeout", s.opts.Config.Tend.ShutdownTimeout.String()).Msg("shutdown took too long: SIGKILL to everything")
	for _, p := range s.programs {
		if p.alive() {
			s.killGroup(p)
		}
		s.killHook(p)
	}
	// The programs just killed are children until a reap says otherwise:
	// the last drain's answer is stale, and leaving now would skip their
	// exits (and, on a host, hand them to the host's init).
	s.reaps.Expect()
	s.phase = killing
	s.signalLeftovers(unix.SIGKILL, killWait)
}

// setCode records tend's exit code; the first cause wins.
func (s *Supervisor) setCode(code int) {
	if !s.codeSet {
		s.code, s.codeSet = code, true
	}
}

// exitCode is the main program's code (0 for the -e codes), or a critical
// program's, or else 0 for a clean shutdown and 1 if anything had to be
// SIGKILLed.
func (s *Supervisor) exitCode() int {
	if s.codeSet {
		return s.code
	}
	if s.killedAny {
		return 1
	}
	return 0
}
