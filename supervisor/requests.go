package supervisor

import (
	"errors"
	"fmt"
	"strconv"

	"tend/api"
	"tend/control"
	"tend/signals"
)

// onRequest serves one control request on the loop's goroutine. It never
// blocks: the server gives Reply room for the one answer.
func (s *Supervisor) onRequest(r control.Request) {
	reply := s.serve(r)
	select {
	case r.Reply <- reply:
	default:
		s.log.Error().Str("verb", r.Verb).Msg("control reply channel full: answer dropped")
	}
}

// serve does what r asks. The control server has already logged every
// request that changes state with the peer's uid and pid (the audit
// trail); each state change it causes names that uid in its reason.
func (s *Supervisor) serve(r control.Request) control.Reply {
	by := "ctl " + r.Verb + " by uid " + strconv.FormatUint(uint64(r.Peer.UID), 10)
	switch r.Verb {
	case control.VerbStatus:
		ps, err := s.match(r.Names)
		return s.reply(ps, err)
	case control.VerbHealth:
		ok, reason := s.health()
		return control.Reply{Healthy: ok, Reason: reason}
	case control.VerbEvents:
		s.subscribers = append(s.subscribers, subscriber{ch: r.Events, done: r.Done})
		return control.Reply{}
	case control.VerbShutdown:
		s.shutdown(by)
		return control.Reply{}
	case control.VerbReload:
		if err := s.reload(by); err != nil {
			return control.Reply{Err: err.Error()}
		}
		return s.reply(s.programs, nil)
	}
	if len(r.Names) == 0 {
		return control.Reply{Err: r.Verb + " needs a program name or glob"}
	}
	if s.phase != running {
		return control.Reply{Err: "tend is shutting down"}
	}
	ps, err := s.match(r.Names)
	if err != nil {
		return control.Reply{Err: err.Error()}
	}
	var errs []error
	switch r.Verb {
	case control.VerbStart:
		for _, p := range ps {
			if p.state == Paused {
				errs = append(errs, fmt.Errorf("%s is PAUSED: resume it", p.cfg.Name))
				continue
			}
			s.startProgram(p, by)
		}
	case control.VerbStop:
		for _, p := range ps {
			s.stopProgram(p, by)
		}
	case control.VerbRestart:
		for _, p := range ps {
			s.restartProgram(p, by)
		}
	case control.VerbPause:
		for _, p := range ps {
			errs = append(errs, s.pause(p, by))
		}
	case control.VerbResume:
		for _, p := range ps {
			errs = append(errs, s.resume(p, by))
		}
	case control.VerbSignal:
		sig, err := signals.Parse(r.Signal)
		if err != nil {
			return control.Reply{Err: err.Error()}
		}
		for _, p := range ps {
			errs = append(errs, s.signalProgram(p, sig))
		}
	default:
		return control.Reply{Err: fmt.Sprintf("unknown verb %q", r.Verb)}
	}
	return s.reply(ps, errors.Join(errs...))
}

func (s *Supervisor) reply(ps []*program, err error) control.Reply {
	r := control.Reply{}
	if err != nil {
		r.Err = err.Error()
	}
	for _, p := range ps {
		r.Programs = append(r.Programs, p.status())
	}
	return r
}

// status is what `tend ctl status` shows of p.
func (p *program) status() control.Status {
	return control.Status{Name: p.cfg.Name, State: p.state, Health: api.Health(p.probe.health), Pid: p.pid,
		Since: p.since, ExitCode: p.lastCode, Restarts: p.restarts, Critical: p.cfg.Critical, Paused: p.state == Paused,
		Reason: p.reason, NextStart: p.retryAt}
}
