package supervisor

import "tend/api"

// Change is one state change of one program, or one change of its
// health (State == From, Health set): one line in tend's log (changed,
// setHealth) and the event every subscriber gets, the same record.
type Change = api.Event

// subscriber is one events stream (`tend ctl events`): changes go to ch
// until the reader goes away (done closes) or falls behind (ch is full,
// its capacity set by the control server), and then ch is closed and the
// subscriber forgotten. The loop never waits for a reader.
type subscriber struct {
	ch   chan api.Event
	done <-chan struct{}
}

// publish sends c to every subscriber without blocking, dropping the
// ones that are gone or full.
func (s *Supervisor) publish(c Change) {
	if len(s.subscribers) == 0 {
		return
	}
	if c.State == Backoff && c.Health == "" {
		c.NextStart = c.Time.Add(c.RetryIn)
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
		case sub.ch <- c:
			kept = append(kept, sub)
		default:
			s.log.Warn().Msg("events subscriber fell behind: dropped")
			close(sub.ch)
		}
	}
	clear(s.subscribers[len(kept):])
	s.subscribers = kept
}
