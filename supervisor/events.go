package supervisor

// subscriberCap bounds each events subscriber's queue. A subscriber that
// lets it fill is dropped: the loop never waits for a reader.
const subscriberCap = 256

// subscriber is one events stream: changes go to ch until the reader
// goes away (done closes) or falls behind (ch is full), and then ch is
// closed and the subscriber forgotten.
type subscriber struct {
	ch   chan Change
	done <-chan struct{}
}

// Subscribe registers an events stream; the caller reads ch until it is
// closed. It must be called on the loop's goroutine (through a request).
func (s *Supervisor) subscribe(done <-chan struct{}) chan Change {
	ch := make(chan Change, subscriberCap)
	s.subscribers = append(s.subscribers, subscriber{ch: ch, done: done})
	return ch
}

// publish sends c to every subscriber without blocking, dropping the
// ones that are gone or full.
func (s *Supervisor) publish(c Change) {
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
