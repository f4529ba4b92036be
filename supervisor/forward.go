package supervisor

import (
	"slices"
	"syscall"

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
		s.shutdown("signal " + signals.Name(sig))
		return
	case signals.Reload:
		s.reload("signal " + signals.Name(sig)) // an invalid file is logged, and changes nothing
		return
	case signals.Forward:
		if n := s.os.forwarded(sig); n > 0 {
			s.log.Debug().Str("signal", signals.Name(sig)).Int("count", n).Msg("forwarded by the signal handler")
			return
		}
		if target := s.forwardTarget(); target != 0 {
			err := s.os.kill(target, sig)
			s.log.Debug().Err(err).Str("signal", signals.Name(sig)).Int("target", target).Msg("forwarded")
			return
		}
	}
	s.log.Debug().Str("signal", signals.Name(sig)).Stringer("action", action).Msg("signal not forwarded")
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
// forwards quietly, and the loop is not woken for it at all.
func (s *Supervisor) installForwarder() {
	if s.main == nil {
		return
	}
	var sigs []syscall.Signal
	for _, sig := range signals.Catchable() {
		if s.action(sig) == signals.Forward && !signals.Synchronous(sig) && !slices.Contains(s.sub.Ignored, sig) {
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
