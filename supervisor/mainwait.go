package supervisor

import (
	"fmt"
	"strings"
	"time"

	"tend/config"
)

// The main program's wait for its sidecars. `tend -c FILE -- CMD` starts
// CMD once every wanted sidecar is ready or has come to an end
// (sidecarsSettled), as s6-overlay starts CMD after its services.
// [tend] start_timeout bounds that wait (0: no bound); then
// on_start_timeout says what happens: "continue" starts CMD all the
// same, with a warning naming what is not ready; "fail" stops what runs
// and exits 1.

// mainWaits reports whether the main program is waiting for the
// sidecars.
func (s *Supervisor) mainWaits() bool {
	m := s.main
	if m == nil || !m.wanted() || m.state != Stopped {
		return false
	}
	return !s.startWaived && !s.sidecarsSettled()
}

// startMain starts the main program once it no longer waits, and arms
// start_timeout the first time it does.
func (s *Supervisor) startMain() {
	m := s.main
	if m == nil || !m.wanted() || m.state != Stopped {
		return
	}
	if !s.mainWaits() {
		s.startDue = time.Time{}
		s.start(m)
		return
	}
	if t := s.opts.Config.Tend.StartTimeout; t > 0 && s.startDue.IsZero() && !s.startArmed {
		s.startDue, s.startArmed = s.now().Add(t), true
	}
}

// onStartTimeout: start_timeout has passed with the main program still
// waiting.
func (s *Supervisor) onStartTimeout() {
	s.startDue = time.Time{}
	if s.phase != running || !s.mainWaits() {
		return
	}
	t := s.opts.Config.Tend
	var waiting []string
	for _, p := range s.unsettled() {
		what := string(p.state)
		if p.state == Running {
			what = "RUNNING, not ready"
		}
		waiting = append(waiting, fmt.Sprintf("%s is %s", p.cfg.Name, what))
	}
	why := fmt.Sprintf("start_timeout (%s): %s", t.StartTimeout, strings.Join(waiting, ", "))
	if t.OnStartTimeout == config.StartFail {
		s.log.Error().Str("reason", why).Msg("the sidecars are not ready, and on_start_timeout is \"fail\"")
		s.setCode(1)
		s.shutdown(why)
		return
	}
	s.log.Warn().Str("reason", why).Msg("starting the main program with sidecars not ready (on_start_timeout is \"continue\")")
	s.startWaived = true
}
