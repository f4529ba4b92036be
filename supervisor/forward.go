package supervisor

import (
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"tend/reaper"
	"tend/signals"
)

// Signals tend receives: what the mode does with each, and forwarding
// to the main program, by the loop or by tend's signal handler.

// action is the mode's policy for sig.
func (s *Supervisor) action(sig syscall.Signal) signals.Action {
	if s.opts.Config != nil {
		return signals.InSupervisor(sig, s.main != nil)
	}
	return signals.InInit(sig)
}

// onSignal applies the mode's policy to a signal tend received.
func (s *Supervisor) onSignal(sig syscall.Signal) {
	action := s.action(sig)
	switch action {
	case signals.Shutdown:
		s.drainThenShutdown("signal " + signals.Name(sig))
		return
	case signals.Reload:
		s.reload("signal " + signals.Name(sig)) // an invalid file is logged, and changes nothing
		return
	case signals.Forward:
		if n := s.os.forwarded(sig); n > 0 {
			s.log.Debug().Str("signal", signals.Name(sig)).Int("count", n).Msg("forwarded by the signal handler")
			return
		}
		if s.hold(sig) || s.forward(sig) {
			return
		}
	}
	s.log.Debug().Str("signal", signals.Name(sig)).Stringer("action", action).Msg("signal not forwarded")
}

// forward sends sig, rewritten (--rewrite), to forwardTarget, and
// reports whether there was one. A stop signal sent to the main
// program's group is noted: the leftover sweep passes over the
// processes that got it (one TERM per process).
func (s *Supervisor) forward(sig syscall.Signal) bool {
	target := s.forwardTarget()
	if target == 0 {
		return false
	}
	to := s.rewritten(sig)
	err := s.os.kill(target, to)
	if err == nil && target < 0 && signals.Stop(sig) {
		s.noteStopSent(-target)
	}
	ev := s.log.Debug().Err(err).Str("signal", signals.Name(sig)).Int("target", target)
	if to != sig {
		ev = ev.Str("as", signals.Name(to))
	}
	ev.Msg("forwarded")
	return true
}

// rewritten is the signal the main program gets for sig (--rewrite).
func (s *Supervisor) rewritten(sig syscall.Signal) syscall.Signal {
	if to, ok := s.opts.Rewrite[sig]; ok {
		return to
	}
	return sig
}

// hold keeps back a TERM or INT for --drain, and reports whether it did.
// The first one is forwarded once the drain is over (onDrainDue); one
// that comes during the drain cuts it short and is forwarded at once;
// later ones are forwarded at once.
func (s *Supervisor) hold(sig syscall.Signal) bool {
	if s.opts.Drain <= 0 || (sig != unix.SIGTERM && sig != unix.SIGINT) || s.forwardTarget() == 0 {
		return false
	}
	switch {
	case !s.drainDue.IsZero():
		s.drainDue = time.Time{}
		s.log.Info().Str("signal", signals.Name(sig)).Msg("second stop signal: the drain is cut short, forwarded at once")
		return false
	case s.drainSig != 0:
		return false // the drain is over
	}
	s.drainSig, s.drainDue = sig, s.now().Add(s.opts.Drain)
	s.log.Info().Str("signal", signals.Name(sig)).Str("drain", s.opts.Drain.String()).Msg("draining: the signal is forwarded when the drain is over")
	return true
}

// onDrainDue forwards the stop signal --drain held back.
func (s *Supervisor) onDrainDue() {
	s.drainDue = time.Time{}
	if !s.forward(s.drainSig) {
		s.log.Debug().Str("signal", signals.Name(s.drainSig)).Msg("drain over; nothing to forward to")
	}
}

// noteStopSent records that process group pgid has just had a stop
// signal, for the leftover sweep (reaper.Skip). The first one counts.
func (s *Supervisor) noteStopSent(pgid int) {
	s.noteStop(pgid, s.os.bootTicks(), s.now())
}

// noteStop records that process group pgid had a stop signal at ticks
// on the boot clock, at tend time at.
// The first note of a group counts; a later one may only move its time
// back (a stop signal the handler had in flight: noted as sent now,
// then with the handler's own time).
func (s *Supervisor) noteStop(pgid int, ticks uint64, at time.Time) {
	if s.stopAt.IsZero() || at.Before(s.stopAt) {
		s.stopAt = at
	}
	if s.stopSent == nil {
		s.stopSent = reaper.Skip{}
	}
	if t, ok := s.stopSent[pgid]; !ok || ticks < t {
		s.stopSent[pgid] = ticks
	}
}

// takeHandlerStop notes the stop signal the handler forwarded to a
// process group, if it did since the last step. It runs before each
// step: the handler forwards a TERM without waking the loop (a wake-up
// would contend with the main program's for the CPU, and tini has
// none), and what the loop needs of it, the group and the time for the
// leftover sweep, waits until the loop wakes, at the latest for the
// main program's exit.
func (s *Supervisor) takeHandlerStop() {
	if target, ticks, ago, ok := s.os.stopForwarded(); ok && target < 0 {
		s.noteStop(-target, ticks, s.now().Add(-ago))
	}
}

// handlerForwards says whether tend's signal handler may forward sig
// itself. The loop keeps those it rewrites (--rewrite), and the stop
// signals when --drain holds them back.
func (s *Supervisor) handlerForwards(sig syscall.Signal) bool {
	_, rewrite := s.opts.Rewrite[sig]
	return !rewrite && !(signals.Stop(sig) && s.opts.Drain > 0)
}

// forwardTarget is where forwarded signals go now: the main program's
// process group (the main program alone with --no-group) while it runs
// and tend is not shutting down; 0 for nowhere.
func (s *Supervisor) forwardTarget() int {
	if s.main == nil || s.main.pid == 0 || s.phase != running {
		return 0
	}
	if s.opts.NoGroup {
		return s.main.pid
	}
	return -s.main.pid
}

// installForwarder has tend's signal handler send on every signal the
// mode forwards, before the loop hears of it (signals.InstallForwarder).
// A signal the handler sent reaches onSignal only to be logged at debug
// level, and only with Options.LogForwarded; without it the handler
// forwards quietly, and the loop is not woken for it at all. A stop
// signal (TERM, INT, QUIT; forwarded in init mode) is no exception: the
// handler notes it, and the loop takes the note at its next step
// (takeHandlerStop).
func (s *Supervisor) installForwarder() {
	if s.main == nil {
		return
	}
	var sigs []syscall.Signal
	for _, sig := range signals.Catchable() {
		if s.action(sig) == signals.Forward && !signals.Synchronous(sig) && !slices.Contains(s.sub.Ignored, sig) && s.handlerForwards(sig) {
			sigs = append(sigs, sig)
		}
	}
	got, err := s.os.installForwarder(sigs, !s.opts.LogForwarded)
	if err != nil {
		s.log.Warn().Err(err).Msg("signals are forwarded by the loop alone")
	}
	s.log.Debug().Int("signals", len(got)).Msg("the signal handler forwards these signals itself")
}

// syncForwarder points the forwarding handler at forwardTarget. It runs
// after every step of the loop: the handler may forward to a main program
// that has just been reaped until then, as a signal that came a moment
// sooner would have been.
func (s *Supervisor) syncForwarder() {
	s.os.forwardTo(s.forwardTarget())
}

// stopForwarded is osOps.stopForwarded on the kernel's clocks.
func stopForwarded() (target int, ticks uint64, ago time.Duration, ok bool) {
	target, ns, ok := signals.StopForwarded()
	if !ok {
		return 0, 0, 0, false
	}
	var now unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &now) == nil && now.Nano() > ns {
		ago = time.Duration(now.Nano() - ns)
	}
	return target, reaper.BootTicksAt(ns), ago, true
}
