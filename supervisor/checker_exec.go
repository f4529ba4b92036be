package supervisor

import "fmt"

// execChecker runs a command, which passes by exiting 0. It is spawned
// by the loop like a program, and its exit comes through the reaper to
// onProbeExit: the loop stays the one owner of every wait.
type execChecker struct {
	argv []string
	pid  int // the probe in flight; 0: none. loop-owned
}

func (c *execChecker) start(s *Supervisor, pr *probe) error {
	p := pr.prog
	// The probe runs as its program does (sideCommand): same user,
	// directory, environment, umask, limits and privileges.
	cmd, err := s.sideCommand(p, c.argv, s.devNull, s.devNull)
	if err != nil {
		return err
	}
	pid, err := s.spawn(p, cmd)
	if err != nil {
		return err
	}
	// Recorded before the next receive: a probe that exits at once is
	// an exit already waiting, and it is known as a probe's.
	c.pid = pid
	s.probes[pid] = pr
	return nil
}

// stop kills the probe's process group. Its exit is still reaped,
// as a stale probe's (s.probes keeps the pid until then).
func (c *execChecker) stop(s *Supervisor) {
	if c.pid != 0 {
		s.os.kill(-c.pid, killSignal)
		c.pid = 0
	}
}

// exited takes the exit of pid with code: whether pid is the probe in
// flight (not one timed out or abandoned), and the probe's outcome.
func (c *execChecker) exited(pid, code int) (bool, error) {
	if c.pid != pid {
		return false, nil
	}
	c.pid = 0
	if code != 0 {
		return true, fmt.Errorf("exit code %d", code)
	}
	return true, nil
}
