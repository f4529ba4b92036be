package supervisor

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"tend/signals"
)

// A program is one unit: its main process and everything in its process
// group. When the main process exits, whatever is left of the group
// (the workers of an nginx master that died alone, a php-fpm pool) would
// otherwise run on and hold the ports the next run needs. So the exit
// takes effect only once the group is gone: the rest of it gets
// stopsignal (and SIGCONT), then SIGKILL after stopwaitsecs, and the
// program is STOPPING meanwhile, its reason saying how many were left.
//
// Nothing polls. What is left of the group are orphans, reparented to
// tend (PID 1, or a subreaper), and reaped by the one reaper; after every
// event, and so after every reap, the loop asks the kernel whether the
// group still has a member (kill(-pgid, 0): ESRCH once the last one is
// reaped; a zombie still counts). The stopwaitsecs deadline is one more
// of the loop's deadlines.

// ending is a run whose main process has exited while its process group
// may still have members.
type ending struct {
	pgid    int       // the group: the main process's pid
	change  Change    // the exit, as the log line settle writes
	info    exitInfo  // the exit, for the policy
	from    State     // the run's state when its main process exited
	at      time.Time // tend time of the exit
	waiting bool      // the group was not empty: signalled and logged
}

// settleEnds checks, for every program whose main process has exited,
// whether its group is gone, and settles the exit once it is.
func (s *Supervisor) settleEnds() {
	var ended []*program
	for _, p := range s.programs {
		if p.end != nil {
			ended = append(ended, p)
		}
	}
	for _, p := range ended { // settle may forget p: not over s.programs
		s.checkGroup(p)
	}
}

// checkGroup settles p's exit if its group is gone; otherwise, the first
// time, it stops what is left of the group.
func (s *Supervisor) checkGroup(p *program) {
	e := p.end
	if groupGone(s.os.kill(-e.pgid, 0)) && s.cgroupEmpty(p) {
		s.settle(p)
		return
	}
	if e.waiting {
		return
	}
	e.waiting = true
	n := s.os.groupSize(e.pgid)
	if e.from == Stopping {
		// Being stopped: the stop signal went to the whole group, and
		// the stop's deadline bounds the rest of it.
		msg := "main process exited; waiting for the rest of its process group"
		if p.cg.g != nil {
			msg += " and its cgroup"
		}
		s.log.Info().Str("program", p.cfg.Name).Int("pgid", e.pgid).Int("left", n).Str("state", string(p.state)).Msg(msg)
		if p.killed && p.due.IsZero() {
			p.due = s.now().Add(killWait)
		}
		return
	}
	sig := p.cfg.StopSignal
	s.os.kill(-e.pgid, sig)
	s.os.kill(-e.pgid, unix.SIGCONT)
	s.signalRest(p, e.pgid, sig)
	p.due = s.now().Add(p.cfg.StopWaitSecs)
	c := e.change
	c.State = Stopping
	c.Reason += fmt.Sprintf("; %s left in its process group: %s to the group, SIGKILL after stopwaitsecs (%s)",
		processes(n), signals.Name(sig), p.cfg.StopWaitSecs)
	s.changed(p, c)
}

// groupGone reads kill(-pgid, 0): only ESRCH says no process is in the
// group. EPERM means there is one, of another user.
func groupGone(err error) bool {
	return errors.Is(err, unix.ESRCH)
}

// processes is "1 process", "3 processes"; "some processes" when the
// count is unknown (0: /proc could not be read, or they left meanwhile).
func processes(n int) string {
	switch n {
	case 0:
		return "some processes"
	case 1:
		return "1 process"
	}
	return fmt.Sprintf("%d processes", n)
}
