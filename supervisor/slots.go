package supervisor

import (
	"slices"

	"tend/config"
)

// Start storms ([tend] max_starting): at most N programs starting at
// once. Twenty JVMs that each need two cores to start then come up a
// pair at a time instead of all timing out together. A program counts as
// starting while it is STARTING (not yet RUNNING or ready), while a
// oneshot runs, and while one of its hooks runs. The others wait STOPPED,
// with the reason, and take the slots that free up in dependency order
// (a program whose dependencies are not met does not start anyway), then
// in the order of the files.

// slotReason is the reason of a program waiting for a start slot.
const slotReason = "waiting for a start slot"

// starting reports whether p takes a start slot.
func (p *program) starting() bool {
	return p.state == Starting || p.hook != nil || (p.cfg.Type == config.Oneshot && p.pid != 0)
}

// slotFree reports whether p may start now.
func (s *Supervisor) slotFree(p *program) bool {
	max := s.maxStarting()
	if max <= 0 || p.isMain {
		return true
	}
	n := 0
	for _, q := range s.programs {
		if q != p && !q.isMain && q.starting() {
			n++
		}
	}
	return n < max
}

func (s *Supervisor) maxStarting() int {
	if s.opts.Config == nil {
		return 0
	}
	return s.opts.Config.Tend.MaxStarting
}

// waitSlot leaves p STOPPED, wanted, until startReady finds it a slot;
// the first time, with the reason as a state change.
func (s *Supervisor) waitSlot(p *program) {
	if p.state == Stopped && p.reason == slotReason {
		return
	}
	s.changed(p, Change{State: Stopped, From: p.state, Reason: slotReason})
}

// startOrder is the programs in the order startReady offers them slots:
// the files' order when slots are bounded, else the loop's own.
func (s *Supervisor) startOrder() []*program {
	if s.maxStarting() <= 0 {
		return s.programs
	}
	ps := slices.Clone(s.programs)
	slices.SortStableFunc(ps, func(a, b *program) int {
		if a.cfg.Order != b.cfg.Order {
			return a.cfg.Order - b.cfg.Order
		}
		return a.cfg.Instance - b.cfg.Instance
	})
	return ps
}
