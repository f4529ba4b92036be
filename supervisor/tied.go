package supervisor

import (
	"slices"
	"time"

	"tend/config"
)

// Dependents tied to a dependency: depends_on = { db = { condition = …,
// restart = true } }. When db goes down — its process exits, it is
// stopped to be restarted (ctl restart, unhealthy, a reload), it goes
// FATAL — or a oneshot db runs again, its tied dependents are stopped
// at once, and started again, as any dependent is, once the condition
// holds again. What db becoming unhealthy or not ready while it runs
// does not tie: it has not restarted.

// leftUp reports whether a change from one state to another takes a
// program out of the state its dependents came up on: RUNNING (or
// PAUSED, a RUNNING program frozen) or COMPLETED.
func leftUp(from, to State) bool {
	switch from {
	case Running, Paused:
		return to != Running && to != Paused
	case Completed:
		return to != Completed
	}
	return false
}

// restartTied stops, to start them again later, the programs tied to
// p, which has just left its up state for to.
func (s *Supervisor) restartTied(p *program, to State) {
	reason := "dependency " + p.cfg.Name + " is " + string(to) + " (depends_on restart = true)"
	for _, q := range s.programs {
		if q == p || !q.tiedTo(p.cfg.Name) {
			continue
		}
		if q.intent != intentRun && q.intent != intentRestart {
			continue
		}
		switch {
		case q.alive():
			if q.state == Stopping {
				q.restartOnceDown()
				continue
			}
			q.restartOnceDown()
			s.stop(q, reason)
		case q.state == Backoff:
			// Not up, and due to start on its own: it waits for its
			// dependencies instead.
			q.due = time.Time{}
			s.changed(q, Change{State: Stopped, From: Backoff, Reason: reason})
		}
	}
}

// tiedTo reports whether p is tied to the program named name.
func (p *program) tiedTo(name string) bool {
	return slices.ContainsFunc(p.cfg.DependsOn, func(d config.Dep) bool { return d.Restart && d.Name == name })
}
