package supervisor

import (
	"tend/api"
	"tend/control"
)

// subscriber is one events stream (`tend ctl events`): changes go to ch
// until the reader goes away (done closes) or falls behind (ch is full,
// its capacity set by the control server), and then ch is closed and the
// subscriber forgotten. The loop never waits for a reader.
type subscriber struct {
	ch   chan control.Event
	done <-chan struct{}
}

// publish sends c to every subscriber without blocking, dropping the
// ones that are gone or full.
func (s *Supervisor) publish(c Change) {
	if len(s.subscribers) == 0 {
		return
	}
	ev := control.Event{Program: c.Program, State: c.State, From: c.From, Pid: c.Pid,
		Time: c.Time, ExitCode: c.ExitCode, Signal: c.Signal, Reason: c.Reason, Health: api.Health(c.Health)}
	if c.State == Backoff && c.Health == "" {
		ev.NextStart = c.Time.Add(c.RetryIn)
	}
	kept := s.subscribers[:0]
	for _, sub := range s.subscribers {
		select {
		case <-sub.done:
			close(sub.ch)
			continue
		default:
		}
		select {
		case sub.ch <- ev:
			kept = append(kept, sub)
		default:
			s.log.Warn().Msg("events subscriber fell behind: dropped")
			close(sub.ch)
		}
	}
	clear(s.subscribers[len(kept):])
	s.subscribers = kept
}
