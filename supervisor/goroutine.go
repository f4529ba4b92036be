package supervisor

import "runtime/debug"

// goSafe is how the supervisor starts every goroutine of its own: a
// panic is logged with its stack instead of killing tend, which as PID 1
// would take the container down. The goroutine's work is lost; whoever
// waits for it must have a deadline (the loop has one for each).
func (s *Supervisor) goSafe(name string, f func()) {
	go func() {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error().Str("goroutine", name).Interface("panic", r).
					Str("stack", string(debug.Stack())).Msg("recovered a panic")
			}
		}()
		f()
	}()
}

// environ is tend's environment as it was at start.
func (s *Supervisor) environ() []string { return s.env }
