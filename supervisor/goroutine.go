package supervisor

import "tend/internal/safe"

// goSafe is how the supervisor starts every goroutine of its own
// (safe.Go): a panic is logged with its stack instead of killing tend.
// The goroutine's work is lost; whoever waits for it must have a
// deadline (the loop has one for each).
func (s *Supervisor) goSafe(name string, f func()) { safe.Go(s.log, name, f) }

// environ is tend's environment as it was at start.
func (s *Supervisor) environ() []string { return s.env }
