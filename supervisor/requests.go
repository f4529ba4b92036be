package supervisor

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"tend/api"
	"tend/signals"
)

// onRequest serves one control request on the loop's goroutine. It never
// blocks: the server gives Reply room for the one answer.
func (s *Supervisor) onRequest(r api.Request) {
	s.freezing = nil
	reply := s.serve(r)
	if frozen := s.freezing; len(frozen) > 0 && s.os.waitFrozen != nil {
		// A pause through the freezer answers once the kernel has
		// frozen the programs (cgroups.go).
		s.freezing = nil
		s.answerFrozen(r, reply, frozen)
		return
	}
	select {
	case r.Reply <- reply:
	default:
		s.log.Error().Str("verb", string(r.Verb)).Msg("control reply channel full: answer dropped")
	}
}

// serve does what r asks. The control server has already logged every
// request that changes state with the peer's uid and pid (the audit
// trail); each state change it causes names that uid in its reason.
func (s *Supervisor) serve(r api.Request) api.Reply {
	by := "ctl " + string(r.Verb) + " by uid " + strconv.FormatUint(uint64(r.Peer.UID), 10)
	switch r.Verb {
	case api.VerbStatus:
		ps, err := s.match(r.Names)
		reply := s.reply(ps, err)
		s.addUsage(ps, reply.Programs)
		return reply
	case api.VerbLogs:
		ps, err := s.match(r.Names)
		if err != nil {
			return api.Reply{Err: err.Error()}
		}
		return s.logsOf(ps)
	case api.VerbHealth:
		ok, reason := s.health()
		return api.Reply{Healthy: ok, Reason: reason}
	case api.VerbEvents:
		s.subscribers = append(s.subscribers, subscriber{ch: r.Events, done: r.Done})
		return api.Reply{}
	case api.VerbShutdown:
		s.drainThenShutdown(by)
		return api.Reply{}
	case api.VerbReload:
		if err := s.reload(by); err != nil {
			return api.Reply{Err: err.Error()}
		}
		return s.reply(s.programs, nil)
	}
	if len(r.Names) == 0 {
		return api.Reply{Err: string(r.Verb) + " needs a program name or glob"}
	}
	if s.phase != running {
		return api.Reply{Err: "tend is shutting down"}
	}
	if r.Verb == api.VerbScale {
		ps, err := s.scale(r.Names[0], r.Instances, by)
		return s.reply(ps, err)
	}
	ps, err := s.match(r.Names)
	if err != nil {
		return api.Reply{Err: err.Error()}
	}
	var errs []error
	switch r.Verb {
	case api.VerbStart:
		for _, p := range ps {
			if p.state == Paused {
				errs = append(errs, fmt.Errorf("%s is PAUSED: resume it", p.cfg.Name))
				continue
			}
			s.startProgram(p, by)
		}
	case api.VerbStop:
		for _, p := range ps {
			s.stopProgram(p, by)
		}
	case api.VerbRestart:
		for _, p := range ps {
			s.restartProgram(p, by)
		}
	case api.VerbPause:
		for _, p := range ps {
			errs = append(errs, s.pause(p, by))
		}
	case api.VerbResume:
		for _, p := range ps {
			errs = append(errs, s.resume(p, by))
		}
	case api.VerbSignal:
		sig, err := signals.Parse(r.Signal)
		if err != nil {
			return api.Reply{Err: err.Error()}
		}
		for _, p := range ps {
			errs = append(errs, s.signalProgram(p, sig))
		}
	default:
		return api.Reply{Err: fmt.Sprintf("unknown verb %q", r.Verb)}
	}
	return s.reply(ps, errors.Join(errs...))
}

func (s *Supervisor) reply(ps []*program, err error) api.Reply {
	r := api.Reply{Freezes: s.freezes, FrozenSeconds: s.frozenTotal.Seconds()}
	if err != nil {
		r.Err = err.Error()
	}
	for _, p := range ps {
		st := p.status(s.now())
		if p.alive() {
			// started is tend time, real time less s.frozen: back on the
			// real clock, less the time the container was frozen since,
			// as tend's deadlines count it. The same every call.
			st.Started = p.started.Add(s.frozen)
		}
		r.Programs = append(r.Programs, st)
	}
	return r
}

// status is what `tend ctl status` shows of p, but Started (reply).
func (p *program) status(now time.Time) api.Status {
	return api.Status{Name: p.cfg.Name, State: p.state, Health: p.probe.health, Pid: p.pid,
		Since: p.since, ExitCode: p.lastCode, Restarts: p.restarts, Critical: p.cfg.Critical,
		NextRun: p.nextRunWall(now), Reason: p.reason, NextStart: p.retryAt, OOMKills: p.cg.oomKills,
		Ready: p.isReady(), StatusText: p.statusText}
}
