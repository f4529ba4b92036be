package supervisor

import (
	"fmt"

	"tend/notify"
)

// tend's own service manager: when tend was started with NOTIFY_SOCKET
// (podman --sdnotify=container, systemd Type=notify), it says READY=1
// once what /readyz watches is ready, a one-line STATUS= when that
// changes, and STOPPING=1 when it begins to shut down. Sends never
// block (notify.Client); a failure is logged once.

// Notifier is where tend tells its own manager how it is:
// *notify.Client.
type Notifier interface {
	Send(state string) error
}

// manager is what tend has told its manager so far.
type manager struct {
	ready    bool   // READY=1 was sent
	stopping bool   // STOPPING=1 was sent
	status   string // the last STATUS= text
	failed   bool   // a send failed (logged once)
}

// tellManager runs after every turn of the loop, with a manager only.
func (s *Supervisor) tellManager() {
	if s.opts.Notify == nil {
		return
	}
	ok, reason := s.health()
	if ok && !s.mgr.ready && s.phase == running {
		s.mgr.ready = true
		s.send("READY=1")
	}
	if text := s.statusLine(ok, reason); text != s.mgr.status {
		s.mgr.status = text
		s.send(notify.Status(text))
	}
}

// tellStopping says STOPPING=1, once, as the shutdown (or its drain)
// begins.
func (s *Supervisor) tellStopping() {
	if s.opts.Notify == nil || s.mgr.stopping {
		return
	}
	s.mgr.stopping = true
	s.send("STOPPING=1")
}

// statusLine is tend's state in one line for STATUS=.
func (s *Supervisor) statusLine(ok bool, reason string) string {
	up := 0
	for _, p := range s.programs {
		if p.state == Running {
			up++
		}
	}
	switch {
	case s.phase != running:
		return fmt.Sprintf("stopping: %d of %d programs running", up, len(s.programs))
	case ok:
		return fmt.Sprintf("ready: %d of %d programs running", up, len(s.programs))
	}
	return fmt.Sprintf("not ready: %s; %d of %d programs running", reason, up, len(s.programs))
}

func (s *Supervisor) send(state string) {
	if err := s.opts.Notify.Send(state); err != nil && !s.mgr.failed {
		s.mgr.failed = true
		s.log.Warn().Err(err).Str("message", state).Msg("cannot tell tend's own service manager (NOTIFY_SOCKET); later failures are not logged")
	}
}
